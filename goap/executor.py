"""The public name executors import: ``from goap.executor import ActionFailed``.

The contract itself lives with the runner (``goap.running.contract``); this module keeps the
name that executors in ``actions/`` and users' own packages have always imported.
"""

from goap.running.contract import ActionFailed

__all__ = ["ActionFailed"]
