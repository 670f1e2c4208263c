"""Which pip extra brings a module that an executor could not import.

"No module named 'git'" says nothing to someone who installed the core wheel: the
executor's own distribution knows (its ``Requires-Dist`` lines carry ``extra == "git"``), so
the message can say ``pip install 'goap-mlops[git]'``. Read from the installed metadata, so
it holds for any package of executors, not only ours.
"""

from __future__ import annotations

import re
from importlib import metadata

# import names that differ from the project name on PyPI
PROJECTS = {"git": "gitpython", "github": "pygithub", "PIL": "pillow", "yaml": "pyyaml"}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?[^;]*(?:;(.*))?$")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_hint(missing: str, importer: str) -> str:
    """How to install the module ``missing`` that ``importer`` (a module name) needs, or ""."""
    missing = missing.partition(".")[0]  # `huggingface_hub.errors` is huggingface_hub's
    top, wanted = importer.partition(".")[0], _normal(PROJECTS.get(missing, missing))
    for dist in metadata.packages_distributions().get(top, []):
        for line in metadata.requires(dist) or []:
            match = _REQUIREMENT.match(line)
            if not match or _normal(match.group(1)) != wanted:
                continue
            extra = _EXTRA.search(match.group(3) or "")
            target = f"'{dist}[{extra.group(1)}]'" if extra else match.group(1)
            return f"install it with `pip install {target}`"
    return ""
