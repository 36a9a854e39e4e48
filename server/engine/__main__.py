"""``python -m server.engine --event NAME [--config FILE]``: run one event's dispatcher.

Without ``DASK_SCHEDULER_ADDRESS`` (or ``DASK_CLUSTER = "slurm"``) it starts the embedded local
cluster of ``LOCAL_WORKERS`` processes; SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import Any

from sqlalchemy import select

from server.config import CONFIG_ENV, load_settings
from server.db import make_engine, make_session_factory
from server.engine.cluster import connect
from server.engine.dispatcher import Dispatcher
from server.engine.worker_plugins import WorkerHostCheck
from server.models import Event


def serve(settings: dict[str, Any], event_name: str, stop: threading.Event) -> None:
    """Connect to the cluster and dispatch ``event_name`` until ``stop`` is set."""
    session_factory = make_session_factory(make_engine(settings["DATABASE_URL"]))
    with session_factory() as session:
        event = session.scalars(select(Event).where(Event.name == event_name)).one_or_none()
        if event is None:
            raise SystemExit(f"no event named {event_name!r}: create it first, then start this")
        use_gpu = event.use_gpu
        needed = {
            "the event's kit": event.kit_dir,
            "the public data": event.public_data_dir,
            "the hidden set": event.hidden_data_dir,
        }
    connection = connect(settings, gpu=use_gpu)
    # Every worker, now and later, checks its host for what this event's jobs need.
    connection.require(WorkerHostCheck.here(needed, settings["SCRATCH_DIR"]))
    dispatcher = Dispatcher(
        session_factory,
        event_name,
        connection,
        scratch_root=settings["SCRATCH_DIR"],
        poll_seconds=float(settings["DISPATCHER_POLL_SECONDS"]),
        watchdog_margin_seconds=float(settings["ENGINE_WATCHDOG_MARGIN_SECONDS"]),
        quick_check_timeout_seconds=int(settings["ENGINE_QUICK_CHECK_TIMEOUT_SECONDS"]),
        max_processes=int(settings["ENGINE_MAX_PROCESSES"]),
        disk_limit_mb=int(settings["ENGINE_DISK_LIMIT_MB"]),
        output_limit_mb=int(settings["ENGINE_OUTPUT_LIMIT_MB"]),
        max_backoff_seconds=float(settings["ENGINE_MAX_BACKOFF_SECONDS"]),
    )
    logging.getLogger(__name__).info("dispatching event %r on %s", event_name, connection.address)
    try:
        dispatcher.run(stop)
    finally:
        dispatcher.close()
        connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.engine", description=__doc__)
    parser.add_argument("--event", required=True, help="the event's name (URL slug)")
    parser.add_argument("--config", help=f"settings file (default: ${CONFIG_ENV})")
    args = parser.parse_args(argv)
    if args.config:
        os.environ[CONFIG_ENV] = args.config
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serve(load_settings(), args.event, stop)


if __name__ == "__main__":
    main()
