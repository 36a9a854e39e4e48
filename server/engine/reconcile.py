"""Reconciling one running submission with the cluster, at the start of every dispatcher pass.

A job is collected when its future ended, re-queued when the cluster lost it, timed out by the
watchdog when it outlived its limit, and adopted when a previous dispatcher launched it: each
job is published as a Dask dataset named by its key, so a restarted dispatcher re-attaches to a
job that is still running (or finished while no dispatcher ran) instead of running it twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

import distributed
from sqlalchemy.orm import Session

from server.engine import results
from server.engine.cluster import ClusterView
from server.engine.job import JobKind, JobLimits
from server.models import Event, Submission, utcnow

log = logging.getLogger(__name__)

# A just-submitted key may not have reached the scheduler yet: not "lost" before this.
LAUNCH_GRACE_SECONDS = 10.0


@dataclass
class Flight:
    """A job the dispatcher holds a future for."""

    key: str
    future: distributed.Future
    gpu: bool
    since: float  # time.monotonic() of launch or adoption


class FlightControl(Protocol):
    """What reconciling needs of the dispatcher (which implements it), without importing it."""

    flights: dict[int, Flight]
    watchdog_margin: float

    def drop(self, client: distributed.Client, view: ClusterView, sid: int) -> Flight: ...

    def on_done(self, future: distributed.Future) -> None: ...

    def limits(self, event: Event, kind: JobKind) -> JobLimits: ...


def reconcile(
    dispatcher: FlightControl,
    session: Session,
    client: distributed.Client,
    event: Event,
    submission: Submission,
    view: ClusterView,
) -> list[Flight]:
    """Bring one running submission up to date; returns the flights it is done with."""
    flights = dispatcher.flights
    flight = flights.get(submission.id)
    if flight is not None and flight.key != submission.job_key:
        return [dispatcher.drop(client, view, submission.id)]
    if flight is None or flight.future.status == "cancelled":
        # Not ours (a previous dispatcher's) or cut off by a scheduler restart.
        if submission.job_key in view.key_states:
            flights[submission.id] = adopt(client, submission.job_key, event)
            flights[submission.id].future.add_done_callback(dispatcher.on_done)
            log.info("adopted %s", submission.job_key)
        else:
            flights.pop(submission.id, None)
            log.warning("%s lost by the cluster: re-queued", submission.job_key)
            results.requeue_after_fault(submission, event.max_retries, count_retry=False)
        return []
    status = flight.future.status
    if status == "finished":
        results.apply_result(session, submission, flight.future.result(), flight.key)
        return [flights.pop(submission.id)]
    if status == "error":
        log.warning("%s: %r", flight.key, flight.future.exception())
        results.requeue_after_fault(submission, event.max_retries, count_retry=True)
        return [flights.pop(submission.id)]
    worker = view.worker_of(flight.key)
    if worker and submission.worker_address != worker:
        submission.worker_address = worker
    if (
        flight.key not in view.key_states
        and time.monotonic() - flight.since > LAUNCH_GRACE_SECONDS
    ):
        results.requeue_after_fault(submission, event.max_retries, count_retry=False)
        return [flights.pop(submission.id)]
    if view.key_states.get(flight.key) in ("queued", "no-worker"):
        # Waiting for a worker (on Slurm, for its job to start): its time limit starts later.
        submission.started_at = utcnow()
        return []
    elapsed = (utcnow() - submission.started_at).total_seconds()
    limit = dispatcher.limits(event, results.kind_for(submission.state)).timeout_seconds
    if elapsed > limit + dispatcher.watchdog_margin:
        log.warning("%s outlived its limit: cancelled by the watchdog", flight.key)
        results.time_out(submission, elapsed)
        return [dispatcher.drop(client, view, submission.id)]
    return []


def adopt(client: distributed.Client, key: str, event: Event) -> Flight:
    """A future for a job the scheduler still knows, launched by an earlier dispatcher."""
    future = client.get_dataset(key, default=None)
    if not isinstance(future, distributed.Future):
        future = distributed.Future(key, client)
    gpu = event.use_gpu and key.endswith(JobKind.FULL.value)
    return Flight(key, future, gpu, time.monotonic())


def forget(client: distributed.Client, flights: list[Flight]) -> None:
    """Let the scheduler drop jobs' tasks and results (one round trip): nothing is kept once
    recorded."""
    if not flights:
        return
    try:
        client.unpublish_dataset([flight.key for flight in flights])
    except (KeyError, OSError, TimeoutError, distributed.comm.CommClosedError):
        pass  # already gone with a scheduler restart
    for flight in flights:
        flight.future.release()
