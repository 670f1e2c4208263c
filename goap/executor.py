"""The public names executors import: ``from goap.executor import ActionFailed, facts, progress``.

The contract itself lives with the runner (``goap.running.contract``, ``.facts``, ``.progress``);
this module keeps the names that executors in ``actions/`` and users' own packages import.
"""

from goap.running.contract import ActionFailed
from goap.running.facts import facts
from goap.running.progress import report as progress

__all__ = ["ActionFailed", "facts", "progress"]
