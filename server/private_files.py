"""Files that hold secrets or students' code are created readable by their owner only.

The SQLite database holds password hashes, every team's code and the private scores; the secret
key signs sessions; the demo's password file opens every demo account. Each is created with mode
0600 from the start (never written first and restricted after), and tightened if an older
version left it readable by others.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
# SQLite creates these beside the database, with the database file's mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private(path: Path) -> None:
    """Restrict an existing file to its owner (0600); a missing file is left alone."""
    if path.exists() and path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_FILE_MODE)


def write_private_text(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text``, mode 0600, unless it exists; True when created.

    The text is written to a private temporary file first and linked into place, so a
    concurrent reader never sees a half-written file and two writers cannot both win.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        try:
            os.link(temporary, path)
        except FileExistsError:
            make_private(path)
            return False
        return True
    finally:
        os.unlink(temporary)


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL; None for other databases and in-memory SQLite."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    path = database_url.removeprefix(prefix).split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def private_sqlite_database(database_url: str) -> None:
    """Create the SQLite database file 0600 before SQLite does (it would use 0644).

    An empty file is a valid new database for SQLite; an existing one, and its WAL and
    shared-memory files, are tightened to 0600. Other databases are left alone.
    """
    path = sqlite_path(database_url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass
    for suffix in ("", *SQLITE_COMPANIONS):
        make_private(Path(f"{path}{suffix}"))
