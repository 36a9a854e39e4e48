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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import distributed
from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server.engine import results
from server.engine.cluster import ClusterView, Connection, probe
from server.engine.job import JobKind, JobSpec
from server.engine.scheduling import ordered_queue
from server.engine.tasks import LogInbox, log_topic, run_job_task
from server.models import DispatcherHeartbeat, Event, Submission, WorkerStatus, utcnow
from server.states import SubmissionState

log = logging.getLogger(__name__)

JobFunction = Callable[[JobSpec, str, str], Any]
# A just-submitted key may not have reached the scheduler yet: not "lost" before this.
LAUNCH_GRACE_SECONDS = 10.0
WORKER_STATUS_FORGET = timedelta(minutes=10)
_RUNNING = (SubmissionState.CHECKING, SubmissionState.TRAINING)


@dataclass
class Flight:
    """A job this dispatcher holds a future for."""

    key: str
    future: distributed.Future
    gpu: bool
    since: float  # time.monotonic() of launch or adoption


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
        quick_check_timeout_seconds: int = 300,
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
        self.max_backoff = max_backoff_seconds
        self.flights: dict[int, Flight] = {}  # submission id -> its job
        self.inbox = LogInbox(accept=lambda sid: sid in self.flights)
        self.errors = 0  # failed passes (database or scheduler unreachable), for monitoring
        # Set when a job ends, so a freed worker is refilled at once rather than after a poll.
        self._wake = threading.Event()
        self._client: distributed.Client | None = None

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; outages back off and never lose work."""
        backoff = self.poll_seconds
        while not stop.is_set():
            try:
                self._wake.clear()
                self.run_pass()
                backoff = self.poll_seconds
                self._wake.wait(self.poll_seconds)
            except (DBAPIError, OSError, TimeoutError, distributed.comm.CommClosedError) as exc:
                self.errors += 1
                backoff = min(backoff * 2, self.max_backoff)
                log.warning("dispatcher pass failed (%s); retrying in %.1f s", exc, backoff)
                stop.wait(backoff)

    def run_pass(self) -> None:
        """One reconcile-and-launch pass, in one transaction."""
        client = self.connection.client
        with self.session_factory() as session:
            event = session.scalars(select(Event).where(Event.name == self.event_name)).one()
            self._subscribe(client, event.id)
            running = list(
                session.scalars(
                    select(Submission).where(
                        Submission.event_id == event.id, Submission.state.in_(_RUNNING)
                    )
                )
            )
            view = probe(client, [s.job_key for s in running if s.job_key])
            done: list[Flight] = []
            for submission in running:
                done += self._reconcile(session, client, event, submission, view)
            running_ids = {s.id for s in running}
            for sid in [sid for sid in self.flights if sid not in running_ids]:
                done.append(self._drop(client, view, sid))  # cancelled or re-queued elsewhere
            chunks = self.inbox.take()
            for submission in running:
                if submission.id in chunks and submission.id in self.flights:
                    results.append_log(submission, chunks[submission.id])
            launches = self._launch(session, event, view)
            self._record(session, event, view, client)
            try:
                session.commit()
            except DBAPIError:
                self.inbox.put_back(chunks)
                raise
        # Only now is the database sure of it: release, then submit what was started.
        for flight in done:
            _forget(client, flight)
        for sid, spec, gpu in launches:
            self._submit(client, event.id, sid, spec, gpu)

    def _subscribe(self, client: distributed.Client, event_id: int) -> None:
        if client is not self._client:  # first pass, or rebuilt after the scheduler came back
            client.subscribe_topic(log_topic(event_id), self.inbox.receive)
            self._client = client

    def _reconcile(self, session, client, event, submission, view) -> list[Flight]:
        flight = self.flights.get(submission.id)
        if flight is not None and flight.key != submission.job_key:
            return [self._drop(client, view, submission.id)]
        if flight is None or flight.future.status == "cancelled":
            # Not ours (a previous dispatcher's) or cut off by a scheduler restart.
            if submission.job_key in view.key_states:
                self.flights[submission.id] = _adopt(client, submission.job_key, event)
                self.flights[submission.id].future.add_done_callback(self._on_done)
                log.info("adopted %s", submission.job_key)
            else:
                self.flights.pop(submission.id, None)
                log.warning("%s lost by the cluster: re-queued", submission.job_key)
                results.requeue_after_fault(submission, event.max_retries, count_retry=False)
            return []
        status = flight.future.status
        if status == "finished":
            results.apply_result(session, submission, flight.future.result(), flight.key)
            return [self.flights.pop(submission.id)]
        if status == "error":
            log.warning("%s: %r", flight.key, flight.future.exception())
            results.requeue_after_fault(submission, event.max_retries, count_retry=True)
            return [self.flights.pop(submission.id)]
        worker = view.worker_of(flight.key)
        if worker and submission.worker_address != worker:
            submission.worker_address = worker
        if (
            flight.key not in view.key_states
            and time.monotonic() - flight.since > LAUNCH_GRACE_SECONDS
        ):
            results.requeue_after_fault(submission, event.max_retries, count_retry=False)
            return [self.flights.pop(submission.id)]
        elapsed = (utcnow() - submission.started_at).total_seconds()
        if (
            elapsed
            > self._timeout(event, results.kind_for(submission.state)) + self.watchdog_margin
        ):
            log.warning("%s outlived its limit: cancelled by the watchdog", flight.key)
            results.time_out(submission, elapsed)
            return [self._drop(client, view, submission.id)]
        return []

    def _drop(self, client, view: ClusterView, sid: int) -> Flight:
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
        return launches

    def _spec(self, event: Event, submission: Submission, kind: JobKind) -> JobSpec:
        return JobSpec(
            submission_id=submission.id,
            attempt=submission.attempts,
            kind=kind,
            files={f.name: f.content for f in submission.files},
            public_data_dir=event.public_data_dir,
            hidden_data_dir=event.hidden_data_dir,
            n_folds=event.n_folds,
            timeout_seconds=self._timeout(event, kind),
            memory_limit_mb=event.memory_limit_mb,
            use_gpu=event.use_gpu and kind is JobKind.FULL,
        )

    def _timeout(self, event: Event, kind: JobKind) -> int:
        if kind is JobKind.QUICK_CHECK:
            return min(event.timeout_seconds, self.quick_check_timeout)
        return event.timeout_seconds

    def _submit(self, client, event_id: int, sid: int, spec: JobSpec, gpu: bool) -> None:
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
        # Published, the job outlives this client: a restarted dispatcher adopts it by key.
        client.publish_dataset(future, name=key, override=True)
        future.add_done_callback(self._on_done)
        self.flights[sid] = Flight(key, future, gpu, time.monotonic())

    def _on_done(self, _future: distributed.Future) -> None:
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


def _adopt(client: distributed.Client, key: str, event: Event) -> Flight:
    """A future for a job the scheduler still knows, launched by an earlier dispatcher."""
    future = client.get_dataset(key, default=None)
    if not isinstance(future, distributed.Future):
        future = distributed.Future(key, client)
    gpu = event.use_gpu and key.endswith(JobKind.FULL.value)
    return Flight(key, future, gpu, time.monotonic())


def _forget(client: distributed.Client, flight: Flight) -> None:
    """Let the scheduler drop a job's task and result: nothing is kept once recorded."""
    try:
        client.unpublish_dataset(flight.key)
    except (KeyError, OSError, TimeoutError, distributed.comm.CommClosedError):
        pass  # already gone with a scheduler restart
    flight.future.release()


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
