"""The dispatcher: one per event, the only writer of submission state.

Each pass, in one database transaction: look at the scheduler once, reconcile the running
submissions with it (collect results, adopt jobs a previous dispatcher left, re-queue what the
cluster lost, cancel what instructors cancelled, time out hung jobs), then fill the free worker
slots in fair order. The database is the source of truth; Dask holds nothing the next pass
cannot rebuild, and a job's deterministic key makes a repeated launch a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import distributed
from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server.engine import job, results
from server.engine.cluster import ClusterView, Connection, probe
from server.engine.job import JobKind, JobLimits, JobSpec
from server.engine.reconcile import Flight, forget, reconcile
from server.engine.scheduling import ordered_queue, queue_mark
from server.engine.tasks import LogInbox, log_topic, run_job_task
from server.models import DispatcherHeartbeat, Event, Submission, WorkerStatus, utcnow
from server.states import RUNNING_STATES, SubmissionState

log = logging.getLogger(__name__)

JobFunction = Callable[[JobSpec, str, str], Any]
WORKER_STATUS_FORGET = timedelta(minutes=10)
# While a worker is free, the queue is looked at this often between passes: a new submission
# starts at once rather than after up to a poll interval.
QUEUE_CHECK_SECONDS = 0.1


class Dispatcher:
    """Runs one event's submissions on a Dask cluster; see the module docstring."""

    def __init__(
        self,
        session_factory: sessionmaker,
        event_name: str,
        connection: Connection,
        *,
        scratch_root: str,
        job_function: JobFunction = run_job_task,
        poll_seconds: float = 0.5,
        watchdog_margin_seconds: float = 120.0,
        quick_check_timeout_seconds: int = job.DEFAULT_QUICK_CHECK_TIMEOUT_SECONDS,
        max_processes: int = job.DEFAULT_MAX_PROCESSES,
        disk_limit_mb: int = job.DEFAULT_DISK_LIMIT_MB,
        output_limit_mb: int = job.DEFAULT_OUTPUT_LIMIT_MB,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.session_factory = session_factory
        self.event_name = event_name
        self.connection = connection
        self.scratch_root = scratch_root
        self.job_function = job_function
        self.poll_seconds = poll_seconds
        self.watchdog_margin = watchdog_margin_seconds
        self.quick_check_timeout = quick_check_timeout_seconds
        self.max_processes = max_processes
        self.disk_limit_mb = disk_limit_mb
        self.output_limit_mb = output_limit_mb
        self.max_backoff = max_backoff_seconds
        self.flights: dict[int, Flight] = {}  # submission id -> its job
        self.inbox = LogInbox(accept=lambda sid: sid in self.flights)
        self.errors = 0  # failed passes (database or scheduler unreachable), for monitoring
        # Set when a job ends, so a freed worker is refilled at once rather than after a poll.
        self._wake = threading.Event()
        self._client: distributed.Client | None = None
        # The queue as the last pass left it, while a slot was free (else None), and its event.
        self._queue_mark: tuple[int, int | None] | None = None
        self._event_id: int | None = None

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; outages back off and never lose work."""
        backoff = self.poll_seconds
        while not stop.is_set():
            try:
                self._wake.clear()
                self.run_pass()
                backoff = self.poll_seconds
                self._pause()
            except (DBAPIError, OSError, TimeoutError, distributed.comm.CommClosedError) as exc:
                self.errors += 1
                backoff = min(backoff * 2, self.max_backoff)
                log.warning("dispatcher pass failed (%s); retrying in %.1f s", exc, backoff)
                stop.wait(backoff)

    def _pause(self) -> None:
        """Until the next pass: a job ended, the poll interval passed, or the queue changed
        while a worker is free (a cheap query every ``QUEUE_CHECK_SECONDS``)."""
        deadline = time.monotonic() + self.poll_seconds
        while (left := deadline - time.monotonic()) > 0:
            watch = self._queue_mark is not None and self._event_id is not None
            if self._wake.wait(min(left, QUEUE_CHECK_SECONDS) if watch else left):
                return
            if watch:
                with self.session_factory() as session:
                    if queue_mark(session, self._event_id) != self._queue_mark:
                        return

    def run_pass(self) -> None:
        """One reconcile-and-launch pass, in one transaction."""
        client = self.connection.client
        with self.session_factory() as session:
            event = session.scalars(select(Event).where(Event.name == self.event_name)).one()
            self._subscribe(client, event.id)
            running = list(
                session.scalars(
                    select(Submission).where(
                        Submission.event_id == event.id, Submission.state.in_(RUNNING_STATES)
                    )
                )
            )
            view = probe(client, [s.job_key for s in running if s.job_key])
            done: list[Flight] = []
            for submission in running:
                done += reconcile(self, session, client, event, submission, view)
            running_ids = {s.id for s in running}
            for sid in [sid for sid in self.flights if sid not in running_ids]:
                done.append(self.drop(client, view, sid))  # cancelled or re-queued elsewhere
            chunks = self.inbox.take()
            try:  # any statement from here may flush the log chunks, then fail
                for submission in running:
                    if submission.id in chunks and submission.id in self.flights:
                        results.append_log(submission, chunks[submission.id])
                launches, free = self._launch(session, event, view)
                self._event_id = event.id
                self._queue_mark = queue_mark(session, event.id) if free > 0 else None
                self._record(session, event, view, client)
                session.commit()
            except DBAPIError:
                self.inbox.put_back(chunks)
                raise
        # Only now is the database sure of it: release, then submit what was started (in this
        # order: a re-run may reuse a released job's key). One scheduler round trip for each.
        forget(client, done)
        self._submit(client, event.id, launches)

    def _subscribe(self, client: distributed.Client, event_id: int) -> None:
        if client is not self._client:  # first pass, or rebuilt after the scheduler came back
            client.subscribe_topic(log_topic(event_id), self.inbox.receive)
            self._client = client

    def drop(self, client, view: ClusterView, sid: int) -> Flight:
        """Stop a job whose result is no longer wanted; its worker is restarted to kill it."""
        flight = self.flights.pop(sid)
        worker = view.worker_of(flight.key)
        flight.future.cancel()
        if worker is not None:
            threading.Thread(target=_restart_worker, args=(client, worker), daemon=True).start()
        return flight

    def _launch(self, session: Session, event: Event, view: ClusterView):
        free = view.total_slots - max(view.busy_slots, len(self.flights))
        free_gpus = view.total_gpus - max(
            view.busy_gpus, sum(f.gpu for f in self.flights.values())
        )
        launches, blocked_teams = [], set()
        for submission in ordered_queue(session, event.id) if free > 0 else []:
            if free <= 0:
                break
            gpu = event.use_gpu and submission.state is SubmissionState.WAITING
            if submission.team_id in blocked_teams or (gpu and free_gpus < 1):
                blocked_teams.add(submission.team_id)  # a team's own order is kept
                continue
            kind, _key = results.start_job(submission)
            launches.append((submission.id, self._spec(event, submission, kind), gpu))
            free -= 1
            free_gpus -= gpu
        return launches, free

    def _spec(self, event: Event, submission: Submission, kind: JobKind) -> JobSpec:
        return job_spec(event, submission, kind, self.limits(event, kind))

    def limits(self, event: Event, kind: JobKind) -> JobLimits:
        """The effective limits of a job, decided here once; the worker only enforces them."""
        timeout = event.timeout_seconds
        if kind is JobKind.QUICK_CHECK:
            timeout = min(timeout, self.quick_check_timeout)
        return JobLimits(
            timeout_seconds=timeout,
            memory_limit_mb=event.memory_limit_mb,
            max_processes=self.max_processes,
            disk_limit_mb=self.disk_limit_mb,
            output_limit_mb=self.output_limit_mb,
        )

    def _submit(self, client, event_id: int, launches: list[tuple[int, JobSpec, bool]]) -> None:
        """Submit the jobs, then publish them all in one round trip to the scheduler."""
        published = {}
        for sid, spec, gpu in launches:
            key = results.job_key(sid, spec.attempt, spec.kind)
            future = client.submit(
                self.job_function,
                spec,
                self.scratch_root,
                log_topic(event_id),
                key=key,
                resources={"GPU": 1} if gpu else None,
                retries=0,
            )
            self.flights[sid] = Flight(key, future, gpu, time.monotonic())
            published[key] = future
        if published:
            # Published, a job outlives this client: a restarted dispatcher adopts it by key.
            client.publish_dataset(published, override=True)
        for future in published.values():
            future.add_done_callback(self.on_done)

    def on_done(self, _future: distributed.Future) -> None:
        self._wake.set()

    def _record(self, session: Session, event: Event, view: ClusterView, client) -> None:
        """The heartbeat and the worker table that instructors watch."""
        now = utcnow()
        beat = session.scalars(
            select(DispatcherHeartbeat).where(DispatcherHeartbeat.event_id == event.id)
        ).one_or_none()
        if beat is None:
            beat = DispatcherHeartbeat(event_id=event.id)
            session.add(beat)
        beat.pid, beat.host, beat.last_seen = os.getpid(), socket.gethostname(), now
        beat.scheduler_address = self.connection.address
        rows = {w.address: w for w in session.scalars(select(WorkerStatus))}
        for worker in view.workers:
            row = rows.get(worker.address) or WorkerStatus(address=worker.address)
            session.add(row)
            row.resources = ",".join(f"{k}={v:g}" for k, v in sorted(worker.resources.items()))
            row.running_submission_id = _submission_of(worker.processing)
            row.last_seen = now
        session.execute(
            delete(WorkerStatus).where(WorkerStatus.last_seen < now - WORKER_STATUS_FORGET)
        )

    def close(self) -> None:
        """Release the futures; published jobs keep running for the next dispatcher."""
        for flight in self.flights.values():
            flight.future.release()
        self.flights.clear()


def job_spec(event: Event, submission: Submission, kind: JobKind, limits: JobLimits) -> JobSpec:
    """The job of a submission's current attempt: its files, its event's kit and data."""
    return JobSpec(
        submission_id=submission.id,
        attempt=submission.attempts,
        kind=kind,
        files={f.name: f.content for f in submission.files},
        kit_dir=event.kit_dir,
        public_data_dir=event.public_data_dir,
        hidden_data_dir=event.hidden_data_dir,
        hidden_split_seed=event.hidden_split_seed,
        limits=limits,
        use_gpu=event.use_gpu and kind is JobKind.FULL,
    )


def _restart_worker(client: distributed.Client, address: str) -> None:
    try:
        client.restart_workers([address], timeout=60, raise_for_error=False)
    except Exception as exc:  # noqa: BLE001 - best effort: the worker's own timeout remains
        log.warning("could not restart worker %s: %s", address, exc)


def _submission_of(keys: list[str]) -> int | None:
    """The submission id in a running job key, ``deblend-<id>-<attempt>-<kind>``."""
    for key in keys:
        parts = key.split("-")
        if len(parts) == 4 and parts[0] == "deblend" and parts[1].isdigit():
            return int(parts[1])
    return None
