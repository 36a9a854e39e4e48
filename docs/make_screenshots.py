"""Draw docs/screenshots/*.png from a populated event: ``python docs/make_screenshots.py``.

A made-up week of a school (eight teams, scored and failed submissions, fixed seed) goes into a
throw-away SQLite database; the real app serves it on loopback and headless Chromium (Debian's,
/usr/bin/chromium) takes the pictures: the public leaderboard and the projector while the event
is open, the debrief once it is closed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from server.db import Base, make_engine, make_session_factory  # noqa: E402
from server.models import (  # noqa: E402
    Event,
    EventState,
    ScoreSplit,
    Submission,
    SubmissionFile,
    SubmissionScore,
    Team,
    TeamMember,
    User,
)
from server.passwords import hash_password  # noqa: E402
from server.states import SubmissionState  # noqa: E402
from server.web import create_app  # noqa: E402
from tests.browser.livestack import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

EVENT = "deblending"
INSTRUCTOR = ("instructor@example.org", "screenshot password")
START = datetime(2026, 7, 13, 9, 0, tzinfo=UTC)
# Team -> (submissions, skill: the best central IoU it reaches).
TEAMS = {
    "Source Extractors": (4, 0.71),
    "Small Convolutions": (9, 0.83),
    "U-Netters": (12, 0.88),
    "Sérsic Squad": (7, 0.80),
    "Hubble Trouble": (5, 0.76),
    "Mask Wizards": (10, 0.86),
    "Deep Blenders": (6, 0.84),
    "Photometrists": (3, 0.65),
}
FAILURES = [
    (
        SubmissionState.FAILED,
        "ValueError: predictions have shape (64, 128, 128), expected (64, 128, 128, 2)",
    ),  # fmt: skip
    (SubmissionState.FAILED, "ModuleNotFoundError: No module named 'torch'"),
    (SubmissionState.TIMED_OUT, "timed out after 30.0 min"),
    (SubmissionState.OUT_OF_MEMORY, "out of memory (limit 8192 MB)"),
]
SOURCE = b"class Deblender:\n    def fit(self, X, y):\n        return self\n"
KIT = Path(__file__).resolve().parents[1] / "ramp_kit"
SOURCE_SHA256 = hashlib.sha256(SOURCE).hexdigest()


def populate(session: Session, rng: random.Random) -> None:
    """The event, an instructor, the teams and their submissions over four days."""
    event = Event(
        name=EVENT,
        title="Deblending galaxies: the school's challenge",
        kit_dir=str(KIT),
        public_data_dir="/srv/deblend-ramp/data/student",
        hidden_data_dir="/srv/deblend-ramp/data/hidden",
        state=EventState.OPEN,
        created_at=START - timedelta(days=1),
        opened_at=START,
    )
    session.add(event)
    session.add(
        User(
            email=INSTRUCTOR[0],
            name="Instructor",
            is_instructor=True,
            password_hash=hash_password(INSTRUCTOR[1]),
        )
    )
    session.flush()
    for number, (team_name, (count, skill)) in enumerate(TEAMS.items()):
        user = User(email=f"student{number}@example.org", name=team_name.split()[0])
        team = Team(event=event, name=team_name, created_at=START)
        session.add_all([user, team, TeamMember(event_id=event.id, team=team, user=user)])
        for index in range(count):
            submitted = START + timedelta(hours=rng.uniform(0, 96))
            submission = Submission(
                event=event,
                team=team,
                user=user,
                name=f"{team_name.split()[0].lower().replace('é', 'e')}-v{index + 1}",
                created_at=submitted,
                queued_at=submitted,
                started_at=submitted + timedelta(minutes=1),
                finished_at=submitted + timedelta(minutes=rng.uniform(3, 25)),
                files=[
                    SubmissionFile(
                        name="deblender.py",
                        content=SOURCE,
                        sha256=hashlib.sha256(SOURCE).hexdigest(),
                    )
                ],
            )
            if rng.random() < 0.15:
                submission.state, submission.error_summary = rng.choice(FAILURES)
            else:
                submission.state = SubmissionState.SCORED
                submission.train_seconds = rng.uniform(40, 1500)
                submission.compute_seconds = submission.train_seconds + 30
                progress = (submitted - START) / timedelta(hours=96)
                central = skill - 0.25 * (1 - progress) * rng.uniform(0.5, 1.0)
                submission.scores = scores(central, rng)
            session.add(submission)
    session.commit()


def scores(skill: float, rng: random.Random) -> list[SubmissionScore]:
    """Public and private test scores of the deblending kit for a team of ``skill`` (0 to 1:
    a perfect deblender), with standard errors; the private half differs a little."""
    rows = []
    for split in (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE):
        quality = min(0.99, skill + rng.gauss(0, 0.015))
        flux = 45 * (1 - quality) + rng.uniform(0, 2)  # % : the half-of-the-blend rule is ~45
        values = {
            "central_flux_error": (flux, 0.04 * flux),
            "companion_flux_error": (flux * rng.uniform(1.1, 1.3), 0.05 * flux),
            "central_flux_bias": (flux * rng.uniform(0.1, 0.4), 0.03 * flux),
            "central_outlier_fraction": (min(100.0, 2.5 * flux), 2.0),
            "image_residual": (1.2 * flux, 0.06 * flux),
            "central_iou": (0.4 + 0.55 * quality, 0.01),
        }
        rows += [
            SubmissionScore(split=split, metric=m, value=v, std_error=e)
            for m, (v, e) in values.items()
        ]
    return rows


def take(page, url: str, path: Path, full_page: bool = True) -> None:  # noqa: ANN001
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'screenshots.sqlite'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        with make_session_factory(engine)() as session:
            populate(session, random.Random(2026))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log
        app = create_app({"DATABASE_URL": url, "VAR_DIR": tmp, "SECRET_KEY": "screenshots"})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                take(page, f"{base}/events/{EVENT}/leaderboard", args.out / "leaderboard.png")
                page.set_viewport_size({"width": 1920, "height": 1080})
                take(page, f"{base}/events/{EVENT}/projector", args.out / "projector.png", False)
                page.set_viewport_size({"width": 1280, "height": 800})
                page.goto(f"{base}/auth/login")
                page.get_by_label("Email").fill(INSTRUCTOR[0])
                page.get_by_label("Password").fill(INSTRUCTOR[1])
                page.get_by_role("button", name="Log in").click()
                page.wait_for_load_state("networkidle")
                with make_session_factory(engine)() as session:
                    event = session.scalars(select(Event)).one()
                    event.state, event.closed_at = EventState.CLOSED, START + timedelta(days=4)
                    session.commit()
                take(page, f"{base}/events/{EVENT}/debrief", args.out / "debrief.png")
                browser.close()
        finally:
            server.shutdown()
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
