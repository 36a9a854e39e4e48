"""PostgreSQL unreachable for real: the dispatcher reaches the database through a TCP proxy
process (tcp_proxy.py), which is SIGKILLed while jobs run and finish, so every connection drops
(one in the middle of a dispatcher pass's transaction) and new ones are refused, then started
again on the same port.

The dispatcher runs in its own process on a throw-away schema of DEBLEND_TEST_POSTGRES_URL's
database; the test reads the database directly, around the proxy. Jobs are the scripted job of
helpers.py, on a real ``dask scheduler`` with two ``dask worker`` processes.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    DaskProcesses,
    create_event_db,
    free_port,
    get,
    runs,
    start_dispatcher_process,
    stop_group,
    submit,
    wait_for,
    wait_workers,
)
from livestack import POSTGRES_ENV, postgres_schema, skip_or_fail
from sqlalchemy import Engine, make_url, text

from server.db import make_engine, make_session_factory
from server.engine.cluster import Connection
from server.states import SubmissionState

pytestmark = pytest.mark.postgres

PROXY = Path(__file__).with_name("tcp_proxy.py")
OUTAGE_SECONDS = 4.0


class Proxy:
    """tcp_proxy.py on a free loopback port, forwarding to ``target_url``'s server."""

    def __init__(self, target_url: str) -> None:
        url = make_url(target_url)
        self.target = (url.host or "127.0.0.1", str(url.port or 5432))
        self.port = free_port()
        self.proc = self.start()

    def start(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(PROXY), str(self.port), *self.target],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().strip() if ready else "(nothing within 30 s)"
        if line != "ready":
            proc.kill()
            proc.wait(10)
            raise AssertionError(f"tcp_proxy.py on port {self.port} said {line!r}, not 'ready'")
        return proc

    def url(self, target_url: str) -> str:
        """``target_url`` with its host and port replaced by the proxy's."""
        url = make_url(target_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()


def blocked_on_lock(engine: Engine) -> bool:
    """Whether a connection of the schema's database waits on the heartbeat row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%dispatcher_heartbeat%'"
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one() > 0


@pytest.fixture
def postgres_url():
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        skip_or_fail(f"{POSTGRES_ENV} is not set: the database-outage test needs PostgreSQL")
    with postgres_schema(base) as url:
        create_event_db(url, use_gpu=True, max_retries=1, timeout_seconds=600)
        yield url


def test_postgres_unreachable_dispatcher_backs_off_and_loses_nothing(postgres_url, tmp_path):
    engine = make_engine(postgres_url)
    factory = make_session_factory(engine)
    ids = [submit(factory, {"sleep-quick_check-0": 2, "sleep-full-0": 1}) for _ in range(4)]
    scratch, log = tmp_path / "scratch", tmp_path / "dispatcher.log"
    scratch.mkdir()
    procs = DaskProcesses(n_workers=2)
    connection = Connection(address=procs.address)
    proxy = Proxy(postgres_url)
    dispatcher = None
    try:
        wait_workers(connection, 2)
        dispatcher = start_dispatcher_process(
            proxy.url(postgres_url), procs.address, scratch, log, max_backoff_seconds=1.0
        )
        wait_for(lambda: runs(scratch, ids[0], 0, "quick_check"), what="first check running")
        with engine.connect() as locker:
            # Hold the heartbeat row so that the dispatcher's next pass blocks mid-transaction:
            # the proxy is killed under an open transaction, not between passes.
            locker.execute(text("SELECT 1 FROM dispatcher_heartbeat FOR UPDATE"))
            wait_for(lambda: blocked_on_lock(engine), timeout=60, what="a pass blocked")
            proxy.kill()  # every connection of the dispatcher drops; new ones are refused
            locker.rollback()
        time.sleep(OUTAGE_SECONDS)  # the running checks finish while the database is gone
        proxy.proc = proxy.start()  # same port: the database is back
        wait_for(
            lambda: all(get(factory, i).state is SubmissionState.SCORED for i in ids),
            what="all scored",
        )
        assert dispatcher.poll() is None, f"the dispatcher exited:\n{log.read_text()[-4000:]}"
    finally:
        if dispatcher is not None:
            stop_group(dispatcher)
        proxy.kill()
        connection.close()
        procs.close()
        engine.dispose()
    logged = log.read_text()
    assert "dispatcher pass failed" in logged, "the outage was never logged"
    # The first failure is the pass cut off in its transaction (its statement is in the message).
    assert "UPDATE dispatcher_heartbeat" in logged, "no pass was cut off mid-transaction"
    for sid in ids:  # each job ran exactly once, to its end, and was charged once (1 s each)
        for kind in ("quick_check", "full"):
            lines = runs(scratch, sid, 0, kind)
            assert [line.split()[0] for line in lines] == ["start", "done"], (sid, kind, lines)
        sub = get(factory, sid)
        assert (sub.attempts, sub.compute_seconds, sub.platform_fault) == (0, 2.0, False)
    assert len(list(scratch.glob("*.runs"))) == 2 * len(ids)  # no re-run under a new attempt
