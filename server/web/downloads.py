"""Zip archives for students: the starting kit (cached) and the public data (streamed)."""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

# Never zipped: caches, and what ramp-test leaves behind in a submission folder.
KIT_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".git", "training_output"}
# Public data up to this size goes into the starting kit itself, so that it runs as unzipped;
# larger data is its own download (and the kit's README says how to make it).
KIT_DATA_LIMIT_BYTES = 32 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


def _files_under(root: Path) -> Iterator[Path]:
    """Regular files below ``root`` that resolve inside it (a symlink cannot leak the rest)."""
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in KIT_SKIP_PARTS)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if path.is_file() and path.resolve().is_relative_to(real_root):
                yield path


def kit_members(kit_dir: Path, public_data_dir: Path | None = None) -> list[tuple[Path, str]]:
    """(file, name in the archive) for every file of the kit folder, as ramp-test uses it,
    and the public ``data/`` folder when it is small (see ``KIT_DATA_LIMIT_BYTES``)."""
    members = [
        (path, path.relative_to(kit_dir).as_posix())
        for path in _files_under(kit_dir)
        if path.suffix != ".pyc"
    ]
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
    kit_dir: Path, cache_dir: Path, prefix: str, public_data_dir: Path | None = None
) -> Path:
    """The kit folder (with its small public data) as a zip under ``prefix/``, rebuilt only
    when a file of it changed (name, size or mtime)."""
    members = kit_members(kit_dir, public_data_dir)
    digest = hashlib.sha256(prefix.encode())
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
