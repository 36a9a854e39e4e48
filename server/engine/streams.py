"""The two readers of a sandbox's pipes, each on its own thread: output and returned files.

Both are bounded whatever the sandbox writes: the log keeps its last 64 KB, the files stop at a
total size cap and their names are checked before anything is written on the host.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO


class LogCapture:
    """Reads the sandbox's stdout+stderr; keeps the last ``TAIL_BYTES``, never more."""

    TAIL_BYTES = 64 * 1024

    def __init__(self, stream: IO[bytes], sink: Callable[[str], None] | None) -> None:
        self._stream, self.sink = stream, sink  # settable until the first flush
        self._lock = threading.Lock()
        self._tail = bytearray()
        self._pending = bytearray()
        self._skipped = 0

    def run(self) -> None:
        fd = self._stream.fileno()
        while chunk := os.read(fd, 65536):
            with self._lock:
                self._tail = _keep_last(self._tail + chunk, self.TAIL_BYTES)[0]
                self._pending, dropped = _keep_last(self._pending + chunk, self.TAIL_BYTES)
                self._skipped += dropped
        self._stream.close()

    def flush(self) -> None:
        """Send what arrived since the last flush (at most the last 64 KB) to the sink."""
        with self._lock:
            pending, skipped = bytes(self._pending), self._skipped
            self._pending.clear()
            self._skipped = 0
        if self.sink is not None and (pending or skipped):
            note = f"[... {skipped} bytes of output skipped ...]\n" if skipped else ""
            self.sink(note + pending.decode("utf-8", errors="replace"))

    def tail(self) -> str:
        with self._lock:
            return bytes(self._tail).decode("utf-8", errors="replace")


def _keep_last(buffer: bytearray, size: int) -> tuple[bytearray, int]:
    dropped = max(0, len(buffer) - size)
    return (buffer[dropped:] if dropped else buffer), dropped


class ResultCollector:
    """Reads framed files from the result pipe into a folder, under a total size cap."""

    NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")

    def __init__(self, fd: int, folder: Path, max_bytes: int) -> None:
        self._stream = os.fdopen(fd, "rb", buffering=2**16)
        self._folder, self._room = Path(folder), max_bytes
        self._max_bytes = max_bytes
        self.files: list[str] = []
        self.error: str | None = None

    def run(self) -> None:
        with self._stream:
            while header := self._stream.readline(128):
                self.error = self._receive(header)
                if self.error is not None:
                    # Drain, so the writer is never stuck on a full pipe; the timeout bounds it.
                    while self._stream.read(2**16):
                        pass
                    return

    def _receive(self, header: bytes) -> str | None:
        name, _, size_text = header.decode("ascii", errors="replace").strip().partition(" ")
        if not self.NAME.fullmatch(name) or not size_text.isdigit():
            return f"malformed result header {header[:64]!r}"
        size = int(size_text)
        if size > self._room:
            return f"results larger than {self._max_bytes // 2**20} MB"
        self._room -= size
        with open(self._folder / name, "wb") as out:
            while size:
                chunk = self._stream.read(min(size, 2**20))
                if not chunk:
                    return f"result {name} truncated"
                out.write(chunk)
                size -= len(chunk)
        self.files.append(name)
        return None
