"""Workers as Slurm jobs (dask-jobqueue), asked for when jobs wait and released when idle.

The dispatcher launches a job only into a free worker slot. On Slurm the slots are the
``max_jobs`` workers the cluster may ask for, whether they run yet or not (``ElasticSlots``,
a scheduler plugin that :func:`server.engine.cluster.probe` reads): so the dispatcher launches
up to ``max_jobs`` jobs, and each job waiting in the scheduler is a worker to ask Slurm for.
``JobDemand`` (Dask's adaptive scaling, with its target replaced) keeps one Slurm job per
running or waiting job, releases a worker idle for ``idle_seconds`` (its GPU is free again for
the centre) and forgets a worker whose Slurm job ended (cancelled, at its walltime, a node
lost), so that a new one is asked for when its job is re-queued.
"""

from __future__ import annotations

import logging
import math
import subprocess
import time
from typing import Any

from distributed.deploy.adaptive import Adaptive
from distributed.diagnostics.plugin import SchedulerPlugin

log = logging.getLogger(__name__)

ELASTIC_SLOTS_PLUGIN = "deblend-elastic-slots"
# Task states that need a worker: running, or waiting for one.
DEMAND_STATES = ("processing", "queued", "no-worker")
ADAPT_INTERVAL_SECONDS = 1.0
SQUEUE_INTERVAL_SECONDS = 10.0
# Slurm states of a job that still holds (or waits for) its place.
SLURM_LIVE_STATES = {"PENDING", "CONFIGURING", "RUNNING", "SUSPENDED", "REQUEUED", "RESIZING"}


class ElasticSlots(SchedulerPlugin):
    """The worker slots (and GPUs) the cluster can grow to, for the dispatcher to fill."""

    name = ELASTIC_SLOTS_PLUGIN

    def __init__(self, slots: int, gpus: int) -> None:
        self.slots = slots
        self.gpus = gpus


class JobDemand(Adaptive):
    """One Slurm job per job that runs or waits, at most ``maximum``; idle ones released."""

    def __init__(self, cluster: Any, *, maximum: int, idle_seconds: float) -> None:
        super().__init__(
            cluster,
            minimum=0,
            maximum=maximum,
            interval=ADAPT_INTERVAL_SECONDS,
            wait_count=max(1, math.ceil(idle_seconds / ADAPT_INTERVAL_SECONDS)),
        )
        self._seen_jobs: set[str] = set()  # Slurm jobs whose worker connected
        self._last_squeue = 0.0

    async def target(self) -> int:
        # The scheduler lives in this process (dask-jobqueue starts it here).
        tasks = self.cluster.scheduler.tasks.values()
        return sum(1 for task in tasks if task.state in DEMAND_STATES)

    async def recommendations(self, target: int) -> dict:
        ended = self._ended_workers()
        if ended:
            log.warning("Slurm jobs of workers %s ended: asking for others", sorted(ended))
            for name in ended:
                self.cluster.worker_spec.pop(name, None)
            await self.cluster  # closes their Job objects
        return await super().recommendations(target)

    def _ended_workers(self) -> set[str]:
        """Workers whose Slurm job is over: they connected and left, or never came and Slurm
        no longer holds their job (checked every ``SQUEUE_INTERVAL_SECONDS``). By job id:
        dask-jobqueue reuses the names of released workers."""
        observed = self.observed
        jobs = {
            name: str(job.job_id)
            for name, job in self.cluster.workers.items()
            if name in self.cluster.worker_spec and getattr(job, "job_id", None)
        }
        self._seen_jobs = (self._seen_jobs | {jobs[n] for n in observed if n in jobs}) & set(
            jobs.values()
        )
        ended = {name for name, job in jobs.items() if job in self._seen_jobs} - observed
        waiting = {name: job for name, job in jobs.items() if job not in self._seen_jobs}
        now = time.monotonic()
        if waiting and now - self._last_squeue >= SQUEUE_INTERVAL_SECONDS:
            self._last_squeue = now
            live = slurm_live_jobs(list(waiting.values()))
            if live is not None:
                ended |= {name for name, job in waiting.items() if job not in live}
        return ended


def slurm_live_jobs(job_ids: list[str]) -> set[str] | None:
    """Which of ``job_ids`` Slurm still holds; None when squeue cannot tell."""
    command = ["squeue", "-h", "-o", "%i %T", "-j", ",".join(job_ids)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 and "Invalid job id" not in done.stderr:
        return None
    rows = [line.split() for line in done.stdout.splitlines()]
    return {row[0] for row in rows if len(row) == 2 and row[1] in SLURM_LIVE_STATES}


def start_elastic(cluster: Any, *, max_jobs: int, gpus: bool, idle_seconds: float) -> None:
    """Declare the slots and start the demand-driven scaling of a dask-jobqueue cluster."""
    plugin = ElasticSlots(slots=max_jobs, gpus=max_jobs if gpus else 0)
    cluster.scheduler.add_plugin(plugin, name=ELASTIC_SLOTS_PLUGIN)

    def make(cluster_: Any, **_: Any) -> JobDemand:
        return JobDemand(cluster_, maximum=max_jobs, idle_seconds=idle_seconds)

    # SpecCluster.adapt builds the Adaptive on the cluster's event loop.
    cluster.adapt(Adaptive=make)
