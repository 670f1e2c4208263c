"""Every file goap creates, truncates or replaces goes through here: never through a link.

goap runs as root in containers and next to agents that can write into its folders. A
predictable name planted as a symbolic link (``<state>.lock``, a temp file, a log, a backup)
would otherwise make goap truncate or overwrite whatever the link points to, and a second
name for the state file (a symlink or a hard link) would get a lock of its own. So:

- a new file is created exclusively (``O_EXCL``: an existing name, link or not, is an
  error, never reused) or opened with ``O_NOFOLLOW`` and checked to be a plain file with
  one name before anything is written into it;
- an atomic replacement writes a randomly named, exclusively created temp file in the same
  folder and renames it over the target (a rename replaces a link, it never writes through);
- a file goap owns (the state file, its lock) must not be a link, so every name that can
  reach it for writing is the same name and meets the same lock;
- names made from catalog text are sanitised before they become file names.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import IO

from state.model import StateError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
NAME_MAX = 80


def safe_name(text: str) -> str:
    """``text`` as one harmless path component: no separators, no dot-names, bounded length."""
    name = _UNSAFE.sub("_", text).strip("._") or "_"
    return name[:NAME_MAX]


def owned(path: Path) -> Path:
    """``path`` as a file goap may replace: not a symbolic link, not a second hard link.

    The folders above it may be links (``realpath`` of the folder); the file itself may not,
    so two names never reach one file with two different locks.
    """
    path = Path(os.path.realpath(path.parent)) / path.name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        raise StateError(
            f"{path} is a symbolic link (to {target}); goap never writes through links: "
            f"pass the real file with --state"
        )
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"{path} is not a regular file; pass another path with --state")
    if info.st_nlink > 1:
        raise StateError(
            f"{path} has {info.st_nlink} hard links, and another name for it would not share "
            f"its lock; keep one name (find the others with `find / -samefile {path}`)"
        )
    return path


def _checked(fd: int, path: Path) -> int:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise StateError(
            f"{path} is not a plain file of its own (a hard link or a device); remove it "
            f"and run again"
        )
    return fd


def open_fd(path: Path, flags: int = os.O_RDWR, mode: int = 0o644) -> int:
    """Open or create ``path`` for writing without following a link; a plain, single file."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symbolic link
            raise StateError(
                f"{path} is a symbolic link; goap never writes through links: remove it"
            ) from None
        raise
    return _checked(fd, path)


def open_append(path: Path) -> IO[str]:
    """A text file to append to (a log), created if missing, never reached through a link."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_fd(path, os.O_WRONLY | os.O_APPEND)
    return os.fdopen(fd, "a", encoding="utf-8")


def create_new(path: Path, mode: int = 0o644) -> IO[bytes]:
    """A new file that did not exist under any form (file, link, folder): ``O_EXCL``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    return os.fdopen(fd, "wb")


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text``: readers see the old file or the new one, never half.

    The temp file is created exclusively with a random name; on any failure (a full disk)
    it is removed and the old file is untouched. The new file keeps the old one's mode
    (``mode`` for a new file, 0o644 when not given).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def backup(path: Path) -> Path | None:
    """Copy ``path`` (an owned file) to the first free ``<name>.<n>.bak``; None if no file.

    The copy is made from the file itself (never a link's target), into a file created
    exclusively (an earlier backup is never replaced) with the original's mode.
    """
    path = owned(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as source:
        data, mode = source.read(), stat.S_IMODE(os.fstat(source.fileno()).st_mode)
    for n in range(1, 10_000):
        target = path.with_name(f"{path.name}.{n}.bak")
        try:
            handle = create_new(target, mode)
        except FileExistsError:
            continue
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return target
    raise StateError(f"{path}: 9999 backups exist next to it; remove old .bak files")


def default_state_path(catalog_path: Path) -> Path:
    """plans/deployment.yaml -> plans/deployment_state.json (the seed's file name)."""
    return catalog_path.with_name(f"{catalog_path.stem}_state.json")
