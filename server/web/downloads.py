"""Zip archives for students: the starting kit (cached) and the public data (streamed)."""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

# Never zipped: caches, and what ramp-test leaves behind in a submission folder.
KIT_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".git", "training_output"}
# Public data up to this size goes into the starting kit itself, so that it runs as unzipped;
# larger data is its own download (and the kit's README says how to make it).
KIT_DATA_LIMIT_BYTES = 32 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
# ramp-workflow's folder of reference submissions, one folder each, in every kit.
SUBMISSIONS_DIR = "submissions"


class UnknownSubmissionError(ValueError):
    """A submission marked public is not a folder under the kit's submissions/."""


def _files_under(root: Path) -> Iterator[Path]:
    """Regular files below ``root`` that resolve inside it (a symlink cannot leak the rest)."""
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in KIT_SKIP_PARTS)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if path.is_file() and path.resolve().is_relative_to(real_root):
                yield path


def reference_submissions(kit_dir: Path) -> list[str]:
    """The folder names under the kit's ``submissions/``, sorted."""
    folder = kit_dir / SUBMISSIONS_DIR
    if not folder.is_dir():
        return []
    return sorted(
        path.name for path in folder.iterdir() if path.is_dir() and path.name not in KIT_SKIP_PARTS
    )


def check_public_submissions(kit_dir: Path, names: Iterable[str]) -> list[str]:
    """``names`` without repeats, once each is a reference submission of the kit.

    Raises ``UnknownSubmissionError`` naming the folders that exist.
    """
    wanted = list(dict.fromkeys(name.strip() for name in names))
    known = reference_submissions(kit_dir)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UnknownSubmissionError(
            f"no reference submission {', '.join(map(repr, unknown))} in "
            f"{kit_dir / SUBMISSIONS_DIR}: expected folder names among "
            f"{', '.join(known) or '(none: the kit has no submissions/ folder)'}"
        )
    return wanted


def _is_hidden_submission(name: str, public_submissions: Iterable[str] | None) -> bool:
    """Whether archive name ``name`` lies in a submission folder that is not public."""
    if public_submissions is None:
        return False
    parts = name.split("/")
    # submissions/README.md and the like stay: only the submission folders are chosen.
    return len(parts) > 2 and parts[0] == SUBMISSIONS_DIR and parts[1] not in public_submissions


def kit_members(
    kit_dir: Path,
    public_data_dir: Path | None = None,
    public_submissions: Iterable[str] | None = None,
) -> list[tuple[Path, str]]:
    """(file, name in the archive) for every file of the kit folder, as ramp-test uses it,
    and the public ``data/`` folder when it is small (see ``KIT_DATA_LIMIT_BYTES``).

    Of the reference submissions, only the folders named in ``public_submissions`` go in;
    None puts every one in.
    """
    public = None if public_submissions is None else set(public_submissions)
    members = []
    for path in _files_under(kit_dir):
        name = path.relative_to(kit_dir).as_posix()
        if path.suffix != ".pyc" and not _is_hidden_submission(name, public):
            members.append((path, name))
    data_dir = (public_data_dir or kit_dir) / "data"
    kit_has_data = (kit_dir / "data").exists()
    if public_data_dir is not None and data_dir.is_dir() and not kit_has_data:
        data = [
            (path, path.relative_to(data_dir.parent).as_posix()) for path in _files_under(data_dir)
        ]
        if sum(path.stat().st_size for path, _ in data) <= KIT_DATA_LIMIT_BYTES:
            members += data
    return members


def starting_kit_zip(
    kit_dir: Path,
    cache_dir: Path,
    prefix: str,
    public_data_dir: Path | None = None,
    public_submissions: Iterable[str] | None = None,
) -> Path:
    """The kit folder (with its small public data and its public reference submissions) as a
    zip under ``prefix/``, rebuilt only when a file of it changed (name, size or mtime) or
    the submissions marked public did."""
    members = kit_members(kit_dir, public_data_dir, public_submissions)
    digest = hashlib.sha256(prefix.encode())
    marking = "*" if public_submissions is None else "\0".join(sorted(set(public_submissions)))
    digest.update(f"public submissions: {marking}\n".encode())
    for path, name in members:
        stat = path.stat()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    target = cache_dir / f"starting-kit-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, name in members:
                archive.write(path, f"{prefix}/{name}")
        partial.replace(target)  # atomic: concurrent requests never serve half a zip
    return target


class _ChunkSink:
    """A write-only file whose content is taken out in chunks (zipfile streams into it)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def stream_zip(root: Path, prefix: str) -> Iterator[bytes]:
    """A zip of every file below ``root``, produced chunk by chunk (data sets are large).

    Stored, not deflated: noisy float images barely compress, and deflating gigabytes per
    download would load the web server.
    """
    sink = _ChunkSink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[arg-type]
        for path in _files_under(root):
            name = f"{prefix}/{path.relative_to(root).as_posix()}"
            with path.open("rb") as source, archive.open(name, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK_BYTES):
                    target.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
