"""Crash-safe file writes: a temporary name in the same folder, fsync, then rename.

Whatever happens (an exception, Ctrl-C, a full disk, a killed process), the target path
holds either its old content or the complete new content, never a mix; a failed write
removes its temporary file, named `.<target>.charrnn-tmp-<pid>` (a name only this program
makes, so a sweep of a crashed writer's leftovers never touches a user's file). A folder
sync that fails after the rename (EIO: the new name may not survive a power cut) raises
OSError like any other failed write.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

# Errors that mean "this platform or filesystem cannot sync a folder", not "the sync
# failed": opening a folder is refused where folders cannot be opened as files (Windows:
# EACCES; EISDIR elsewhere) or where the folder may be written but not read (mode -wx);
# fsync then refuses a descriptor it cannot sync (EINVAL: Linux filesystems without
# directory sync; ENOTSUP/EOPNOTSUPP: some network and FUSE filesystems; EBADF: Windows
# syncs only descriptors open for writing). Anything else, EIO above all, means the
# rename may not survive a crash, and is raised for the caller to report.
_CANNOT_OPEN_DIR = {errno.EACCES, errno.EISDIR}
_CANNOT_SYNC_DIR = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable, where the platform can (see above)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in _CANNOT_OPEN_DIR:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_DIR:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary handle whose content replaces `path` only if the block completes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(temporary_name(path.name, os.getpid()))
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


TEMPORARY_MARK = ".charrnn-tmp-"


def temporary_name(target: str, pid: int) -> str:
    """The name a write of `target` goes to before its rename."""
    return f".{target}{TEMPORARY_MARK}{pid}"


def remove_leftovers(folder: Path, targets: Iterable[str]) -> None:
    """Delete the temporaries that a killed writer of `targets` (file names) left in
    `folder`: only names `temporary_name` makes, never another file."""
    if not folder.is_dir():
        return
    for target in targets:
        prefix = temporary_name(target, 0)[:-1]
        for leftover in folder.glob(glob.escape(prefix) + "*"):
            if leftover.name[len(prefix):].isdigit():
                leftover.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)
