"""``goap demo``: a fresh ML workspace deployed end to end with plans/deployment.yaml, here.

The demo is an application of the engine, so it lives above it: it may import goap, the
executors in ``actions/`` and their artifact layout, while nothing in ``goap/``, ``state/``,
``actions/`` or ``models/`` imports it. It adds its command to ``goap`` through the
``goap.commands`` entry point (pyproject), and its workspace is made of real template files
shipped as package data (``demo/template``), as is the catalog (``plans/``), so it works from
a wheel in an empty directory.

- ``workspace``: create (or reuse) the workspace from the templates.
- ``summary``: what a run did and produced, as a JSON document and as tables.
- ``command``: the ``goap demo`` command.
"""
