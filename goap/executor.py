"""The public names executors import: ``from goap.executor import ActionFailed, facts, progress``.

The contract itself lives with the runner (``goap.running.contract``, ``.facts``, ``.progress``);
this module keeps the names that executors in ``actions/`` and users' own packages import.
``remote_job``/``reattach``/``leave_jobs`` are for an executor that submits its work to a
service of its own (a Modal call): goap journals the job, and a resumed run hands it back.
"""

from goap.running.contract import ActionFailed
from goap.running.facts import facts
from goap.running.progress import leave_jobs, reattach
from goap.running.progress import report as progress
from goap.running.progress import report_job as remote_job

__all__ = ["ActionFailed", "facts", "leave_jobs", "progress", "reattach", "remote_job"]
