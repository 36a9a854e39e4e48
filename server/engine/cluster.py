"""Connecting the dispatcher to Dask: a local cluster, an existing scheduler, or Slurm.

Dask's own retries are off (``allowed-failures = 0``): when a worker dies mid-job the future
errs with ``KilledWorker`` at once and the dispatcher decides whether to run it again. On Slurm
the workers come and go with the demand (``slurm.py``); every worker, wherever it runs, checks
its host when it starts and stops its jobs when it closes (``worker_plugins.py``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import dask
import distributed

from server.engine import worker_plugins
from server.engine.slurm import ELASTIC_SLOTS_PLUGIN, start_elastic
from server.engine.worker_plugins import JobsStopWithWorker, WorkerHostCheck, WorkerHostError

log = logging.getLogger(__name__)

DASK_CONFIG = {"distributed.scheduler.allowed-failures": 0}
CLOSE_TIMEOUT_SECONDS = 30
# Task states that hold (or wait for) a worker slot.
_ACTIVE_STATES = ("processing", "queued", "no-worker")
# A Slurm worker left idle this long is released (its Slurm job ends).


def local_cluster(n_workers: int, *, gpu: bool = False) -> distributed.LocalCluster:
    """The embedded cluster: one single-threaded worker process per slot, on loopback."""
    with dask.config.set(DASK_CONFIG):
        return distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: several clusters may share a host
            resources={"GPU": 1} if gpu else None,
        )


def slurm_cluster(settings: dict[str, Any]) -> Any:
    """A dask-jobqueue SLURMCluster from ``DASK_SLURM`` (a table of SLURMCluster arguments).

    Each Slurm job is one single-threaded worker with one GPU. Up to ``DASK_SLURM_JOBS`` of
    them run while jobs wait or run; one idle for ``DASK_SLURM_IDLE_SECONDS`` is released.
    """
    from dask_jobqueue import SLURMCluster

    options = dict(settings.get("DASK_SLURM") or {})
    options.setdefault("processes", 1)
    options.setdefault("cores", 1)
    options.setdefault("worker_extra_args", ["--resources", "GPU=1"])
    with dask.config.set(DASK_CONFIG):
        cluster = SLURMCluster(**options)
    # The scheduler runs in this process: each probe would log "Run out-of-band function".
    logging.getLogger("distributed.worker").setLevel(logging.WARNING)
    start_elastic(
        cluster,
        max_jobs=int(settings.get("DASK_SLURM_JOBS", 1)),
        gpus="GPU=1" in options["worker_extra_args"],
        idle_seconds=float(settings["DASK_SLURM_IDLE_SECONDS"]),
    )
    return cluster


class Connection:
    """A Dask client that is rebuilt when the scheduler went away and came back."""

    def __init__(self, address: str | None = None, cluster: Any = None) -> None:
        if (address is None) == (cluster is None):
            raise ValueError("give either a scheduler address or a cluster, not both")
        self.cluster = cluster
        self.address = address or cluster.scheduler_address
        self._client: distributed.Client | None = None
        self._checks: list[WorkerHostCheck] = []

    @property
    def client(self) -> distributed.Client:
        """A running client; a closed one (reconnect timed out) is replaced."""
        if self._client is not None and self._client.status in ("closed", "closing"):
            self._client = None
        if self._client is None:
            client = distributed.Client(self.address, timeout=10, set_as_default=False)
            try:  # with each new client: a restarted scheduler forgot the plugins
                client.register_plugin(JobsStopWithWorker())
                for check in self._checks:
                    _register(client, check)
            except BaseException:
                client.close()
                raise
            self._client = client
        return self._client

    def require(self, check: WorkerHostCheck) -> None:
        """Have every worker, present and future, check its host when it starts."""
        self._checks.append(check)
        if self._client is not None:
            _register(self._client, check)
        else:
            _ = self.client  # registers it

    def close(self) -> None:
        """Close the client, then the cluster it owns (its workers first, then the scheduler).

        Quietly: on the way down a peer that already closed its end (workers stopped by the same
        SIGTERM, a scheduler stopped first) is expected, not an error worth a traceback.
        """
        client, self._client = self._client, None
        if client is not None:
            with _quiet_shutdown():
                client.close(timeout=CLOSE_TIMEOUT_SECONDS)
        if self.cluster is not None:
            with _quiet_shutdown():
                self.cluster.close(timeout=CLOSE_TIMEOUT_SECONDS)


def _register(client: distributed.Client, check: WorkerHostCheck) -> None:
    # By value: a worker without the project must still be able to say so.
    cloudpickle.register_pickle_by_value(worker_plugins)
    try:
        client.register_plugin(check)
    except WorkerHostError as exc:
        log.error("%s", exc)  # a worker already up lacks something; the message says what


@contextlib.contextmanager
def _quiet_shutdown() -> Iterator[None]:
    """Mute Dask's logging and swallow closed-connection errors while shutting down."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    except (distributed.comm.CommClosedError, OSError, TimeoutError) as exc:
        log.info("connection already closed at shutdown: %s", exc)
    finally:
        logger.setLevel(level)


def connect(settings: dict[str, Any], *, gpu: bool = False) -> Connection:
    """``DASK_SCHEDULER_ADDRESS``, else ``DASK_CLUSTER = "slurm"``, else a local cluster."""
    address = settings.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return Connection(address=address)
    if settings.get("DASK_CLUSTER") == "slurm":
        return Connection(cluster=slurm_cluster(settings))
    return Connection(cluster=local_cluster(int(settings.get("LOCAL_WORKERS", 2)), gpu=gpu))


@dataclass
class WorkerView:
    address: str
    nthreads: int
    resources: dict[str, float]
    processing: list[str]


@dataclass
class ClusterView:
    """One consistent look at the scheduler, taken once per dispatcher pass."""

    workers: list[WorkerView]
    key_states: dict[str, str]  # the asked-for keys the scheduler still knows
    busy_slots: int
    busy_gpus: int
    allowed_failures: int
    # Slots (GPUs) of an elastic cluster, whether their workers run yet or not (Slurm).
    elastic_slots: int = 0
    elastic_gpus: int = 0
    total_slots: int = field(init=False)
    total_gpus: float = field(init=False)

    def __post_init__(self) -> None:
        self.total_slots = max(sum(w.nthreads for w in self.workers), self.elastic_slots)
        gpus = sum(w.resources.get("GPU", 0) for w in self.workers)
        self.total_gpus = max(gpus, self.elastic_gpus)

    def worker_of(self, key: str) -> str | None:
        return next((w.address for w in self.workers if key in w.processing), None)


def probe(client: distributed.Client, keys: list[str]) -> ClusterView:
    """Workers, their running keys, busy slots and the state of ``keys``, in one round trip."""

    # Defined inside so that cloudpickle ships it by value: the scheduler needs no project code.
    def _look(dask_scheduler: Any, keys: list[str]) -> dict[str, Any]:
        busy = gpus = 0
        for ts in dask_scheduler.tasks.values():
            if ts.state in _active:
                busy += 1
                gpus += "GPU" in (ts.resource_restrictions or {})
        elastic = dask_scheduler.plugins.get(_elastic_name)
        return {
            "elastic": (getattr(elastic, "slots", 0), getattr(elastic, "gpus", 0)),
            "workers": [
                (ws.address, ws.nthreads, dict(ws.resources), [str(t.key) for t in ws.processing])
                for ws in dask_scheduler.workers.values()
            ],
            "keys": {k: dask_scheduler.tasks[k].state for k in keys if k in dask_scheduler.tasks},
            "busy": busy,
            "gpus": gpus,
            "allowed_failures": dask_scheduler.allowed_failures,
        }

    _active, _elastic_name = _ACTIVE_STATES, ELASTIC_SLOTS_PLUGIN
    raw = client.run_on_scheduler(_look, keys=keys)
    return ClusterView(
        workers=[WorkerView(*w) for w in raw["workers"]],
        key_states=raw["keys"],
        busy_slots=raw["busy"],
        busy_gpus=raw["gpus"],
        allowed_failures=raw["allowed_failures"],
        elastic_slots=raw["elastic"][0],
        elastic_gpus=raw["elastic"][1],
    )
