"""A running deblend-ramp on this machine: data, settings file, database, dispatcher, HTTP waits.

Shared by the browser tests and the production-stack test (plain helpers, no fixtures). Every
process started here is stopped by its caller; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from server.db import make_engine
from server.engine.exceptions import SandboxUnavailableError
from server.engine.sandbox import check_available

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Debian's Chromium, headless; the networking flags keep it off this machine's closed network.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POSTGRES_ENV = "DEBLEND_TEST_POSTGRES_URL"
# A real submission of the deblending kit: the blend's light within 12 px of the stamp centre
# is the central galaxy's, the rest the companion's.
DISK_DEBLENDER = """\
import numpy as np


class Deblender:
    def fit(self, X, y):
        return self

    def predict(self, X):
        n, height, width = X.shape
        yy, xx = np.mgrid[:height, :width]
        disk = (yy - height / 2) ** 2 + (xx - width / 2) ** 2 < 12**2
        images = np.zeros((n, height, width, 2), dtype=np.float32)
        images[..., 0] = X * disk
        images[..., 1] = X * ~disk
        return images
"""
# The kit the live events run, and its official score as the boards label it.
DEBLENDING_KIT = REPO_ROOT / "ramp_kit"


def official_score():  # noqa: ANN201
    """The deblending kit's official score (server.kit.ScoreInfo)."""
    from server.kit import kit_info

    return kit_info(DEBLENDING_KIT).official


# Scoring on a loaded two-core machine: a local Dask cluster, then two sandboxed runs.
SCORING_TIMEOUT = 420.0


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (``CI`` set) a missing tool is a broken set-up, so fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must provide it: see .ci/run)")
    pytest.skip(reason)


def require_sandbox() -> None:
    """The dispatcher runs submissions in bubblewrap, as root."""
    try:
        check_available()
    except SandboxUnavailableError as error:
        skip_or_fail(str(error))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Until ``url`` answers (any HTTP status); fails early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing answered at {url} within {timeout:.0f} s")


def make_event_data(root: Path) -> tuple[Path, Path]:
    """A tiny student release and hidden set (4 public and 4 private blends), simulated."""
    from ramp_kit.data import generate_hidden_set, generate_student_release

    public, hidden = root / "student", root / "hidden"
    generate_student_release(public, n_train=16, n_test=8, jobs=1, progress=False)
    generate_hidden_set(hidden, n=8, seed=918_273, jobs=1, progress=False)
    # The sandbox runs as an unprivileged uid: it must read the release; only the worker reads
    # the hidden set, outside the sandbox.
    for folder in (public, *public.rglob("*")):
        if folder.is_dir():
            folder.chmod(0o755)
    hidden.chmod(0o700)
    return public, hidden


def write_config(path: Path, var_dir: Path, database_url: str) -> Path:
    """A settings file shaped like deploy/config.example.toml, for this machine."""
    path.write_text(
        f'var_dir = "{var_dir}"\n'
        f'database_url = "{database_url}"\n'
        f'secret_key = "{uuid.uuid4().hex}"\n'
        f'data_root = "{var_dir / "data"}"\n'
        f'scratch_dir = "{var_dir / "scratch"}"\n'
        "local_workers = 1\n"
        "dispatcher_poll_seconds = 0.5\n"
    )
    return path


def config_env(config: Path) -> dict[str, str]:
    return {**os.environ, "DEBLEND_RAMP_CONFIG": str(config)}


def start_engine(config: Path, event_name: str, log_path: Path) -> subprocess.Popen:
    """``python -m server.engine --event NAME`` with its own local Dask cluster."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "server.engine", "--event", event_name],
            cwd=REPO_ROOT,
            env=config_env(config),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, timeout: float = 60.0) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL of its process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL on a fresh, uniquely named schema of ``base_url``'s database, dropped afterwards.

    Every connection of the URL has that schema alone on its search path, so the tables (and
    Alembic's version table) never meet those of other tests sharing the database.
    """
    schema = f"stack_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
