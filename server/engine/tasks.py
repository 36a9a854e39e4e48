"""The function a Dask worker runs for one job.

It writes nothing to the database: it runs :func:`server.engine.worker.run_job` and streams the
student's output to the dispatcher as Dask events on a per-event topic (the scheduler relays
them to the dispatcher's ``Client.subscribe_topic`` handler), so the page shows the log tail
while the job runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import distributed

from server.engine.job import JobResult, JobSpec

if TYPE_CHECKING:
    from server.engine.worker import ReadySandboxes

# Batch output so that a chatty fit() costs a message every half second, not one per line.
FLUSH_SECONDS = 0.5
FLUSH_CHARS = 8_000


def log_topic(event_id: int) -> str:
    """The Dask event topic carrying one event's log chunks."""
    return f"deblend-log-{event_id}"


class LogForwarder:
    """A ``log_sink`` that batches chunks and publishes them as Dask events."""

    def __init__(self, topic: str, spec: JobSpec, publish: Callable[[str, dict], None]) -> None:
        self._topic = topic
        self._head = {"submission_id": spec.submission_id, "attempt": spec.attempt}
        self._publish = publish
        self._buffer: list[str] = []
        self._size = 0
        self._last = time.monotonic()

    def __call__(self, chunk: str) -> None:
        self._buffer.append(chunk)
        self._size += len(chunk)
        if self._size >= FLUSH_CHARS or time.monotonic() - self._last >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        text = "".join(self._buffer)[-FLUSH_CHARS:]
        self._buffer.clear()
        self._size = 0
        self._last = time.monotonic()
        try:
            self._publish(self._topic, {**self._head, "chunk": text})
        except Exception:  # noqa: BLE001 - a lost log chunk must never fail the job
            pass


def run_job_task(spec: JobSpec, scratch_root: str, topic: str) -> JobResult:
    """Run one job on this Dask worker; the default ``job_function`` of the dispatcher."""
    from server.engine.worker import run_job  # imported here: only workers need the sandbox

    worker = distributed.get_worker()
    forward = LogForwarder(topic, spec, worker.log_event)
    key = worker.get_current_task()
    try:
        result = run_job(
            spec,
            Path(scratch_root),
            log_sink=forward,
            cancelled=lambda: released(worker, key),
            ready=ready_sandboxes(worker),
        )
    finally:
        forward.flush()
    result.worker_address = result.worker_address or worker.address
    return result


def released(worker: distributed.Worker, key: str) -> bool:
    """Whether the scheduler let go of the running task ``key``: the client that submitted
    it died before the job was published (or the job was cancelled), so no one will collect
    its result and a new dispatcher runs it again. Its sandbox must stop, not run twice."""
    task = worker.state.tasks.get(key)
    return task is None or task.state in ("cancelled", "released", "forgotten")


def ready_sandboxes(worker: distributed.Worker) -> ReadySandboxes:
    """This worker's sandboxes started ahead of its jobs, one per job slot at most."""
    from server.engine.worker import ReadySandboxes

    with _ready_lock:
        global _ready
        if _ready is None:
            _ready = ReadySandboxes(capacity=worker.state.nthreads)
        return _ready


def close_ready_sandboxes() -> None:
    """Discard this process's waiting sandboxes (its worker is closing)."""
    with _ready_lock:
        if _ready is not None:
            _ready.close()


_ready: ReadySandboxes | None = None
_ready_lock = threading.Lock()


class LogInbox:
    """The dispatcher's end of the log channel: the last chunks per submission, thread-safe.

    ``receive`` runs on the client's event-loop thread; ``take``/``put_back`` on the
    dispatcher's. Bounded: at most ``max_chars`` kept per submission, and chunks for
    submissions the dispatcher is not running are dropped.
    """

    def __init__(self, accept: Callable[[int], bool], max_chars: int = 10_000) -> None:
        self._accept = accept
        self._max_chars = max_chars
        self._chunks: dict[int, str] = {}
        self._lock = threading.Lock()

    def receive(self, event: tuple[float, dict]) -> None:
        _, msg = event
        submission_id = int(msg["submission_id"])
        if not self._accept(submission_id):
            return
        with self._lock:
            text = self._chunks.get(submission_id, "") + str(msg["chunk"])
            self._chunks[submission_id] = text[-self._max_chars :]

    def take(self) -> dict[int, str]:
        with self._lock:
            chunks, self._chunks = self._chunks, {}
        return chunks

    def put_back(self, chunks: dict[int, str]) -> None:
        """Return chunks that could not be written (the database was down)."""
        with self._lock:
            for submission_id, text in chunks.items():
                merged = text + self._chunks.get(submission_id, "")
                self._chunks[submission_id] = merged[-self._max_chars :]
