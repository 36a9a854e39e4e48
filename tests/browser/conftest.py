"""Fixtures of the browser tests: a live server on loopback, the dispatcher, headless Chromium.

The server is the real app (``create_app`` on the settings file, CSRF on) served by werkzeug in
a thread, on a database made by ``deblend-ramp init-db``: SQLite in ``tmp_path``, and again on
PostgreSQL when ``DEBLEND_TEST_POSTGRES_URL`` is set (in a schema of its own, dropped after).
Chromium is Debian's (/usr/bin/chromium); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import pytest
from click.testing import CliRunner
from livestack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEBLENDING_KIT,
    POSTGRES_ENV,
    make_event_data,
    postgres_schema,
    require_sandbox,
    skip_or_fail,
    start_engine,
    stop,
    tail,
    wait_for_http,
    write_config,
)
from werkzeug.serving import make_server

from server.cli import main as cli_main
from server.web import create_app

EVENT = "school"
INSTRUCTOR_EMAIL = "prof@example.org"
INSTRUCTOR_PASSWORD = "instructor password"


@dataclass
class LiveServer:
    url: str
    config: Path
    database_url: str
    var_dir: Path
    event: str = EVENT
    instructor_email: str = INSTRUCTOR_EMAIL
    instructor_password: str = INSTRUCTOR_PASSWORD


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium for the session; each test opens its own contexts."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def event_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny simulated student release and hidden set, shared by every test."""
    return make_event_data(tmp_path_factory.mktemp("event-data"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'deblend-ramp.sqlite'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: the PostgreSQL run needs a server")
    with postgres_schema(base) as url:
        yield url


@pytest.fixture
def deblend_cli(tmp_path: Path, database_url: str) -> Callable[..., str]:
    """Runs ``deblend-ramp`` on this test's settings file; returns its output."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    config = write_config(tmp_path / "config.toml", var_dir, database_url)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli_main, list(args), env={"DEBLEND_RAMP_CONFIG": str(config)})
        assert result.exit_code == 0, f"deblend-ramp {' '.join(args)}: {result.output}"
        return result.output

    run.config = config  # type: ignore[attr-defined]
    return run


@pytest.fixture
def live_server(
    deblend_cli: Callable[..., str],
    event_data: tuple[Path, Path],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveServer]:
    """An open event and an instructor, set up with the CLI; the app served on loopback."""
    public, hidden = event_data
    deblend_cli("init-db")
    deblend_cli(
        "create-event", EVENT, "--title", "Deblending school", "--kit", str(DEBLENDING_KIT),
        "--public-data", str(public), "--hidden-data", str(hidden),
        "--min-gap", "0", "--timeout", "300", "--memory-mb", "2048",
    )  # fmt: skip
    deblend_cli("open-event", EVENT)
    deblend_cli(
        "create-user", INSTRUCTOR_EMAIL, "--name", "Prof", "--password", INSTRUCTOR_PASSWORD
    )
    deblend_cli("make-instructor", INSTRUCTOR_EMAIL)

    config: Path = deblend_cli.config  # type: ignore[attr-defined]
    monkeypatch.setenv("DEBLEND_RAMP_CONFIG", str(config))
    app = create_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        wait_for_http(f"{url}/", 30)
        yield LiveServer(url, config, database_url, tmp_path / "var")
    finally:
        server.shutdown()
        thread.join(timeout=30)
        app.extensions["deblend_db"].kw["bind"].dispose()


@pytest.fixture
def engine(live_server: LiveServer, tmp_path: Path) -> Iterator[Callable[[], Popen]]:
    """Starts the event's dispatcher (``python -m server.engine``) when the test says so."""
    require_sandbox()
    started: list[Popen] = []
    log_path = tmp_path / "engine.log"

    def start() -> Popen:
        started.append(start_engine(live_server.config, live_server.event, log_path))
        return started[-1]

    start.log = log_path  # type: ignore[attr-defined]
    yield start
    for process in started:
        stop(process)
    if started and started[0].returncode not in (0, -15):
        print(f"dispatcher exited with {started[0].returncode}:\n{tail(log_path)}")


@pytest.fixture
def new_page(chromium: object) -> Iterator[Callable[[], object]]:
    """Pages in separate browser contexts (separate cookies: separate people)."""
    contexts: list = []

    def make() -> object:
        context = chromium.new_context(accept_downloads=True)  # type: ignore[attr-defined]
        context.set_default_timeout(60_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
