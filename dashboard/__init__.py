"""``goap ui``: a dashboard in the browser for one catalog and its state file.

It reads what the other commands write (the state file with its journal, the logs, the
progress channels, the workdir's artifacts and the local registry) and shows it live; its
only writes go through goap itself (a ``goap run`` subprocess, an approval's answer). It
sits above the engine, like ``demo``: ``goap`` finds it through the ``goap.commands`` entry
point and never imports it.
"""
