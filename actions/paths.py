"""Writes that follow no planted link: replace a file through a new, uniquely named one.

:func:`write_text` and :func:`replacing` write a new file beside the target, created
exclusively under a random name (a link already there makes the creation fail instead of
being followed), and rename it over the target, so a link planted at the target's name is
replaced, never written through. (Which paths an executor may name at all is the argument
contract's business: ``actions.contract.InWorkdir``.)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A new empty file beside ``path`` to write into; renamed over ``path`` when the block ends.

    The new file is created exclusively under a random name (a link already there makes the
    creation fail instead of being followed), and the rename replaces whatever ``path`` is,
    a planted link included, without writing through it. On an error the new file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _new_file(path)
    try:
        yield partial
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with a file holding ``text`` (UTF-8), atomically and link-safely."""
    with replacing(path) as partial:
        partial.write_text(text, encoding="utf-8")


def _new_file(path: Path) -> Path:
    stem, suffix = path.stem[:100], path.suffix[:20]
    for _ in range(100):
        candidate = path.with_name(f".{stem}.{secrets.token_hex(6)}.partial{suffix}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(f"cannot create a temporary file beside {path}")
