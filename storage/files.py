"""The database's files are readable by their owner only: they hold health data about identifiable citizens.

SQLite creates a database file with the process's default mode (``-rw-r--r--`` under the usual umask), and it gives
the WAL (``-wal``) and shared-memory index (``-shm``) the mode of the database file. So the file is made here, mode
0600, before SQLite opens it, and the WAL and index follow. A data directory that opening the database creates is
made 0700. An existing database, WAL or index of this user that others can read is tightened to 0600 (with a
warning): a copy left on a shared machine is how such files leak. A directory that already existed is left as it is
(it may be the working directory or /tmp).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
COMPANIONS = ("-wal", "-shm", "-journal")  # the files SQLite keeps beside the database


def private_directory(directory: Path) -> None:
    """Create `directory` (and missing parents) if it does not exist; the directory itself owner-only."""
    if directory.exists():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=DIRECTORY_MODE)
    except FileExistsError:  # another process made it first: theirs to set
        return
    os.chmod(directory, DIRECTORY_MODE)  # whatever the umask left


def private_database(path: Path) -> None:
    """Make the database file owner-only before SQLite opens it; tighten an existing one and its companions."""
    private_directory(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        pass
    else:
        try:
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    for file in (path, *(path.with_name(path.name + suffix) for suffix in COMPANIONS)):
        _tighten(file)


def _tighten(file: Path) -> None:
    try:
        info = file.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        return
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(file, FILE_MODE)
        log.warning("%s could be read by others; it is now readable by its owner only (health data)", file.name)
