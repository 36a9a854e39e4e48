"""``make demo`` end to end: both kits' data, database, web, engines, every baseline scored."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request

import pytest
from sqlalchemy import select

from server.db import make_engine, make_session_factory
from server.kit import kit_info
from server.models import ScoreSplit, Submission
from server.states import SubmissionState

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed: the engine sandboxes every submission with it",
)
def test_demo_scores_every_baseline_through_the_real_queue(tmp_path):
    demo_dir = tmp_path / "demo"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DEBLEND_RAMP_CONFIG"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.demo",
            "--dir",
            str(demo_dir),
            "--port",
            str(port),
            "--scale",
            "small",
            "--exit-when-scored",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    for event in ("deblending", "morphology"):
        assert f"http://127.0.0.1:{port}/events/{event}" in completed.stdout

    session = make_session_factory(make_engine(f"sqlite:///{demo_dir / 'deblend-ramp.sqlite'}"))()
    with session:
        submissions = session.scalars(select(Submission).order_by(Submission.id)).all()
        by_event = {
            event: [s.name for s in submissions if s.event.name == event]
            for event in ("deblending", "morphology")
        }
        assert by_event == {
            "deblending": ["starting_kit", "fcnn", "unet"],
            "morphology": ["starting_kit", "gradient_boosting"],
        }
        for submission in submissions:
            assert submission.state == SubmissionState.SCORED, submission.error_summary
            official = kit_info(submission.event.kit_dir).official.name
            assert submission.score(ScoreSplit.PUBLIC, official) is not None
            assert submission.score(ScoreSplit.PRIVATE, official) is not None
    # The web server is gone with the demo.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
