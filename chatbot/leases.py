"""Reader leases: which index generations some process still reads, so that a writer keeps what they need.

A loaded snapshot (chatbot.store.IndexSnapshot) holds a lease on its generation: a file
`readers/g<generation>-<pid>-<token>` inside the index folder, held open under a shared `flock` for as long
as the snapshot lives. A writer takes the oldest generation any live lease names as its horizon: rows and
segment folders retired after that generation stay until no lease needs them (chatbot.versions). A
process that dies drops its locks with it; the next writer finds its lease files unlocked and deletes them.

A lease is created under a hidden name, locked, then renamed into place, so a writer never finds (and
deletes) a lease that exists but is not locked yet.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import time
import weakref
from pathlib import Path

log = logging.getLogger(__name__)

READERS_DIR = "readers"
LEASE_RE = re.compile(r"^g(\d+)-\d+-[0-9a-f]+$")
# A reader that loads does not know its generation yet: it holds this one until it does (nothing is
# retired at or before generation 0, so a loading reader keeps every retired row and folder).
LOADING = 0


class Lease:
    """One held lease; `release()` drops it, and so does collecting the object (a snapshot holds it)."""

    def __init__(self, path: Path, fd: int, generation: int) -> None:
        self.path = path
        self.generation = generation
        self._release = weakref.finalize(self, _drop, path, fd)

    @classmethod
    def take(cls, index_dir: Path, generation: int) -> Lease | None:
        """A lease on `generation`, or None when the index folder is read-only to this process."""
        folder = Path(index_dir) / READERS_DIR
        name = f"g{generation:010d}-{os.getpid()}-{secrets.token_hex(6)}"
        hidden = folder / f".{name}"
        try:
            folder.mkdir(exist_ok=True)
            fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as e:
            log.warning("cannot take a reader lease in %s (%s): a writer may remove what this reader "
                        "still needs", folder, e)
            return None
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.replace(hidden, folder / name)
        return cls(folder / name, fd, generation)

    def moved_to(self, generation: int) -> Lease | None:
        """A lease on `generation` that replaces this one (taken before this one is released: no gap)."""
        if generation == self.generation:
            return self
        newer = Lease.take(self.path.parent.parent, generation)
        if newer is not None:
            self.release()
        return newer

    def release(self) -> None:
        self._release()


def _drop(path: Path, fd: int) -> None:
    try:
        path.unlink(missing_ok=True)  # first: a writer never sees this name unlocked
    finally:
        os.close(fd)


def oldest_held(index_dir: Path) -> int | None:
    """The oldest generation a live lease holds (None: no reader); deletes the leases of dead processes."""
    folder = Path(index_dir) / READERS_DIR
    if not folder.is_dir():
        return None
    held: list[int] = []
    for path in folder.iterdir():
        match = LEASE_RE.match(path.name.lstrip("."))
        if match is None:
            continue
        if path.name.startswith("."):  # a lease being taken, or left by a reader killed while taking it
            _remove_if_abandoned(path)
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # released meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(int(match.group(1)))
        else:
            log.info("removing the lease of a reader that is gone: %s", path.name)
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return min(held) if held else None


def _remove_if_abandoned(hidden: Path, min_age_s: float = 60.0) -> None:
    try:
        if time.time() - hidden.stat().st_mtime < min_age_s:
            return
        fd = os.open(hidden, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        hidden.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
