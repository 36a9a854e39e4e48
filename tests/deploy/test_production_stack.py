"""The production recipe on this machine: PostgreSQL, the CLI, gunicorn with
deploy/gunicorn.conf.py and the dispatcher, each its own process, as systemd would run them.

A student uploads over plain HTTP (cookies, CSRF tokens from the forms); the dispatcher scores the
submission in its sandbox; the leaderboard's JSON poll and page show it; the instructor's CSV has
it. The database is a schema of its own in DEBLEND_TEST_POSTGRES_URL's database, dropped after.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from livestack import (
    DEBLENDING_KIT,
    DISK_DEBLENDER,
    POSTGRES_ENV,
    REPO_ROOT,
    SCORING_TIMEOUT,
    VENV_BIN,
    config_env,
    free_port,
    make_event_data,
    official_score,
    postgres_schema,
    require_sandbox,
    skip_or_fail,
    start_engine,
    stop,
    tail,
    wait_for_http,
    write_config,
)

pytestmark = pytest.mark.postgres

EVENT = "school"
PASSWORD = "a long enough password"


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        skip_or_fail(f"{POSTGRES_ENV} is not set: the production stack needs PostgreSQL")
    return url


def deblend_ramp(config: Path, *args: str) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "deblend-ramp"), *args],
        env=config_env(config),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"deblend-ramp {' '.join(args)}:\n{result.stderr}"
    return result.stdout


def start_gunicorn(config: Path, port: int, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--config",
                str(REPO_ROOT / "deploy" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
            ],  # fmt: skip
            cwd=REPO_ROOT,
            env={**config_env(config), "DEBLEND_WEB_WORKERS": "2"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def set_up_event(config: Path, root: Path) -> None:
    public, hidden = make_event_data(root)
    assert "latest revision" in deblend_ramp(config, "init-db")
    deblend_ramp(
        config, "create-event", EVENT, "--title", "Deblending school",
        "--kit", str(DEBLENDING_KIT),
        "--public-data", str(public), "--hidden-data", str(hidden),
        "--min-gap", "0", "--timeout", "300", "--memory-mb", "2048",
    )  # fmt: skip
    assert "is open" in deblend_ramp(config, "open-event", EVENT)
    deblend_ramp(
        config, "create-user", "prof@example.org", "--name", "Prof", "--password", PASSWORD
    )
    deblend_ramp(config, "make-instructor", "prof@example.org")


def student_uploads(student) -> int:  # noqa: ANN001
    """Sign up, create a team and upload through the forms; returns the submission id."""
    page = student.get("/auth/signup")
    page = student.post(
        "/auth/signup",
        {
            "csrf_token": page.input_value("csrf_token"),
            "name": "Ada",
            "email": "ada@example.org",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert "Welcome, Ada! Your account is ready." in page.text
    page = student.get(f"/events/{EVENT}")
    page = student.post(
        f"/events/{EVENT}/team/create",
        {"csrf_token": page.input_value("csrf_token"), "team_name": "Andromeda"},
    )
    assert "Team &#39;Andromeda&#39; created" in page.text
    page = student.get(f"/events/{EVENT}/submit")
    page = student.post_files(
        f"/events/{EVENT}/submit",
        {"upload-csrf_token": page.input_value("upload-csrf_token"), "upload-name": "disk"},
        {"upload-files": ("deblender.py", DISK_DEBLENDER.encode())},
    )
    assert page.status == 200 and "/submissions/" in page.url, page.text[-2000:]
    assert "Submission &#39;disk&#39; received; it is queued." in page.text
    return int(page.url.rsplit("/", 1)[1])


def wait_for_board_change(visitor, since: str, engine_log: Path) -> dict:  # noqa: ANN001
    """Poll the board as leaderboard.js does, until the token moves."""
    deadline = time.monotonic() + SCORING_TIMEOUT
    while time.monotonic() < deadline:
        page = visitor.get(f"/events/{EVENT}/leaderboard.json?since={since}")
        assert page.status == 200, page.text
        board = json.loads(page.text)
        if board["changed"]:
            return board
        time.sleep(1)
    raise AssertionError(f"no score within {SCORING_TIMEOUT:.0f} s; dispatcher log:\n"
                         + tail(engine_log))  # fmt: skip


def test_upload_is_scored_and_ranked_on_postgres_behind_gunicorn(
    postgres_url, http_session, tmp_path
) -> None:  # noqa: ANN001
    require_sandbox()
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with postgres_schema(postgres_url) as database_url:
        config = write_config(tmp_path / "config.toml", var_dir, database_url)
        set_up_event(config, tmp_path / "data")
        web = start_gunicorn(config, port, tmp_path / "gunicorn.log")
        engine = None
        try:
            wait_for_http(f"{base_url}/", 120, web)
            visitor, student = http_session(base_url), http_session(base_url)
            first = json.loads(visitor.get(f"/events/{EVENT}/leaderboard.json").text)
            assert first["rows"] == [] and first["changed"] is True

            submission_id = student_uploads(student)
            status = json.loads(student.get(f"/submissions/{submission_id}/status.json").text)
            assert (status["state"], status["queue_position"]) == ("queued", 1)

            engine = start_engine(config, EVENT, tmp_path / "engine.log")
            board = wait_for_board_change(visitor, first["token"], tmp_path / "engine.log")
            assert [(row["id"], row["cells"][1:3]) for row in board["rows"]] == [
                (submission_id, ["Andromeda", "disk"])
            ]
            status = json.loads(student.get(f"/submissions/{submission_id}/status.json").text)
            assert status["state"] == "scored" and status["is_final"] is True
            page = visitor.get(f"/events/{EVENT}/leaderboard")
            row = re.search(rf'<tr data-id="{submission_id}"[^>]*>(.*?)</tr>', page.text)
            assert row is not None, "the scored submission is not on the leaderboard page"
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
            assert cells[:2] == ["1", "Andromeda"]

            instructor = http_session(base_url)
            page = instructor.get("/auth/login")
            instructor.post(
                "/auth/login",
                {
                    "csrf_token": page.input_value("csrf_token"),
                    "email": "prof@example.org",
                    "password": PASSWORD,
                },
            )
            page = instructor.get(f"/admin/events/{EVENT}/submissions.csv")
            assert page.status == 200, page.text[-2000:]
            rows = list(csv.DictReader(io.StringIO(page.text)))
            assert [(r["submission_id"], r["team"], r["state"]) for r in rows] == [
                (str(submission_id), "Andromeda", "scored")
            ]
            official = official_score()
            value = float(rows[0][f"private_{official.name}"])
            assert official.minimum <= value <= official.maximum
        finally:
            if engine is not None:
                stop(engine)
            stop(web)
        assert web.returncode == 0, tail(tmp_path / "gunicorn.log")
