"""The kit is the contract: a public-style kit becomes an event with one command, its
submissions are scored on the hidden set, and a score added to the kit reaches the leaderboard
with no change to the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from server.cli import main
from server.engine import results
from server.engine.job import JobKind
from server.engine.worker import run_job
from server.models import Event, EventState, Submission, SubmissionFile, Team, TeamMember
from server.states import SubmissionState
from tests.browser.livestack import require_sandbox
from tests.job_specs import submission_job_spec
from tests.kits.public_kit import ELEMENT_FILE, SUBMISSIONS, write_public_kit
from tests.web.leaderboard_fixtures import login

pytestmark = pytest.mark.sandbox

ADDED_SCORE = """
score_types.append(rw.score_types.MacroAveragedRecall(name="macro_recall", precision=3))
"""
RAISES = """
from sklearn.dummy import DummyClassifier


class Broken(DummyClassifier):
    def fit(self, X, y):
        raise ValueError("my model cannot fit yet")


def get_estimator():
    return Broken()
"""


def run_on_worker(db, submission: Submission, scratch: Path) -> None:
    """Both jobs of a submission, as the dispatcher runs them, results applied."""
    for kind in (JobKind.QUICK_CHECK, JobKind.FULL):
        if submission.state.is_final:
            return
        kind, key = results.start_job(submission)
        db.commit()
        limits = {"timeout_seconds": 120, "disk_limit_mb": 64, "output_limit_mb": 64}
        spec = submission_job_spec(submission, kind, limits)
        assert results.apply_result(db, submission, run_job(spec, scratch), key)
        db.commit()


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("DEBLEND_RAMP_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text(f'database_url = "{database_url}"\n')
    runner = CliRunner()

    def invoke(*args: str):  # noqa: ANN202
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result

    invoke("init-db")
    return invoke


def test_public_kit_event_from_one_command_scored_with_an_added_score(
    cli, client, db, make_user, tmp_path
):
    require_sandbox()
    kit, hidden = tmp_path / "iris", tmp_path / "iris-hidden"
    write_public_kit(kit, hidden)
    with (kit / "problem.py").open("a") as problem:
        problem.write(ADDED_SCORE)  # the kit gains a score; the server is not touched

    cli("create-event", "iris", "--kit", str(kit), "--hidden-data", str(hidden))
    cli("open-event", "iris")
    event = db.scalars(select(Event).where(Event.name == "iris")).one()
    assert event.state is EventState.OPEN
    team = Team(event_id=event.id, name="alpha")
    db.add(team)
    for name, source in (("logistic", SUBMISSIONS["logistic"]), ("broken", RAISES)):
        submission = Submission(event_id=event.id, team=team, name=name)
        submission.files = [element_file(source)]
        db.add(submission)
        db.commit()
        run_on_worker(db, submission, tmp_path / "scratch")

    scored, broken = db.scalars(select(Submission).order_by(Submission.id)).all()
    assert scored.state is SubmissionState.SCORED, scored.error_summary
    assert broken.state is SubmissionState.FAILED
    assert broken.error_summary == "ValueError: my model cannot fit yet"
    assert 'File "/submission/estimator.py", line 7, in fit' in broken.error_traceback

    board = client.get("/events/iris/leaderboard.json").get_json()
    assert board["columns"][3:8] == ["acc ↑", "error ↓", "nll ↓", "f1_70 ↑", "macro_recall ↑"]
    [row] = board["rows"]
    assert row["cells"][2] == "logistic"
    recall = scored.score("public", "macro_recall")
    assert recall is not None and row["cells"][7] == f"{recall:.3f}"
    # The student sees their own traceback on the submission's page.
    user = make_user()
    db.add(TeamMember(event_id=event.id, team_id=team.id, user_id=user.id))
    db.commit()
    login(client, user)
    page = client.get(f"/submissions/{broken.id}").get_data(as_text=True)
    assert "ValueError: my model cannot fit yet" in page
    assert "/submission/estimator.py" in page


def element_file(source: str) -> SubmissionFile:
    return SubmissionFile(name=ELEMENT_FILE, content=source.encode(), sha256="")
