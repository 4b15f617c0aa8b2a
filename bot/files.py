"""Files holding health data are written readable by their owner only, even when the file already existed
(a mode given to open() applies to new files only) and never through a symbolic link (a shared /tmp)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO


def owner_only(path: str | Path) -> TextIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "w", encoding="utf-8", newline="")
