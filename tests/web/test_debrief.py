"""The instructors' debrief page, its plots, and who may read which code."""

from __future__ import annotations

import re
from datetime import timedelta

from leaderboard_fixtures import T0, add_event, add_submission, add_team, add_user, login

from server.kit import ScoreInfo
from server.models import EventState
from server.states import SubmissionState
from server.web.debrief_stats import progressions
from server.web.ranking import Entry

ACCURACY = ScoreInfo("acc", 2, lower_is_better=False, minimum=0, maximum=1)


def section(page: str, name: str) -> str:
    found = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert found, f"section {name!r} missing"
    return found.group(1)


def test_debrief_is_for_instructors_only(client, db):
    event = add_event(db)
    login(client, add_user(db, "s@x.org", add_team(db, event, "alpha")))
    assert client.get("/events/blend/debrief").status_code == 403
    assert client.get("/events/blend/debrief/scores.png").status_code == 403


def test_debrief_counts_submissions_failures_and_reasons(client, db):
    event = add_event(db)
    alpha, beta = add_team(db, event, "alpha"), add_team(db, event, "beta")
    add_submission(db, alpha, "a1", public=0.5, private=0.6, minute=1)
    add_submission(db, alpha, "a2", state=SubmissionState.FAILED, error="ImportError: keras")
    add_submission(db, alpha, "a3", state=SubmissionState.TIMED_OUT, error="timed out")
    add_submission(db, beta, "b1", public=0.7, private=0.3, minute=2)
    add_submission(db, beta, "b2", state=SubmissionState.FAILED, error="ImportError: keras")
    login(client, add_user(db, "i@x.org", instructor=True))
    page = client.get("/events/blend/debrief").get_data(as_text=True)
    assert "5 submissions, 2 scored, from 2 teams" in page
    activity = section(page, "activity")
    assert "<td>alpha</td><td>3</td><td>1</td><td>2</td>" in activity
    assert "<td>beta</td><td>2</td><td>1</td><td>1</td>" in activity
    reasons = section(page, "failure-reasons")
    assert "<td>ImportError: keras</td><td>2</td>" in reasons
    assert "<td>timed out</td><td>1</td>" in reasons
    # shake-up: beta leads publicly (0.7) but alpha wins on the private set (0.6)
    ranking = section(page, "final-ranking")
    assert ranking.index("alpha") < ranking.index("beta")
    assert "▲ 1" in ranking and "▼ 1" in ranking
    for name in ("score-over-time", "progression", "code"):
        section(page, name)


def test_progressions_keep_only_the_submissions_that_improved_the_team():
    def entry(submission_id: int, team: str, minute: int, value: float | None) -> Entry:
        when = T0 + timedelta(minutes=minute)
        score = {"acc": value}
        return Entry(submission_id, 1, team, "s", when, None, None, score, score, {}, {})

    # alpha: 0.5, then 0.4 (worse, dropped), then 0.7; an unscored entry is skipped
    entries = [entry(3, "alpha", 20, 0.7), entry(1, "alpha", 0, 0.5), entry(2, "alpha", 10, 0.4)]
    entries.append(entry(4, "beta", 5, None))
    assert progressions(entries, ACCURACY) == {
        "alpha": [(T0, 0.5), (T0 + timedelta(minutes=20), 0.7)],
    }


def test_debrief_shows_the_kits_scores_and_the_time_zone(client, db):
    event = add_event(db, state=EventState.CLOSED)
    add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5, private=0.6)
    login(client, add_user(db, "i@x.org", instructor=True))
    ranking = section(client.get("/events/blend/debrief").get_data(as_text=True), "final-ranking")
    for label in ("acc ↑", "error ↓", "public acc ↑", "Submitted (UTC)"):
        assert f">{label}</th>" in ranking


def test_debrief_compares_the_top_teams_diagnostics(client, db):
    event = add_event(db, state=EventState.CLOSED)
    breakdown = {"title": "acc by class", "score": "acc", "bins": ["setosa", "virginica"]}
    for team, values in (("alpha", [1.0, 0.5]), ("beta", [0.75, 0.25])):
        submission = add_submission(db, add_team(db, event, team), "s", public=0.5, private=0.6)
        submission.diagnostics = [{**breakdown, "values": values, "counts": [10, 12]}]
    db.commit()
    login(client, add_user(db, "i@x.org", instructor=True))
    compared = section(client.get("/events/blend/debrief").get_data(as_text=True), "breakdowns")
    assert "acc by class" in compared
    assert "<th>alpha / s</th><th>beta / s</th>" in compared
    assert '<td>virginica</td><td class="num">12</td>' in compared
    assert '<td class="num">0.50</td><td class="num">0.25</td>' in compared


def test_debrief_plots_are_png_images(client, db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    add_submission(db, team, "a1", public=0.5, minute=1)
    add_submission(db, team, "a2", public=0.7, minute=9)
    login(client, add_user(db, "i@x.org", instructor=True))
    for plot in ("scores", "progress"):
        response = client.get(f"/events/blend/debrief/{plot}.png")
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.data.startswith(b"\x89PNG")
    assert client.get("/events/blend/debrief/other.png").status_code == 404


def test_student_reads_own_code_but_not_other_teams_while_open(client, db):
    event = add_event(db)
    alpha, beta = add_team(db, event, "alpha"), add_team(db, event, "beta")
    mine = add_submission(db, alpha, "a1", public=0.5, code="print('alpha secret')\n")
    theirs = add_submission(db, beta, "b1", public=0.6, code="print('beta secret')\n")
    login(client, add_user(db, "s@x.org", alpha))
    own = client.get(f"/events/blend/code/{mine.id}")
    assert own.status_code == 200 and b"alpha secret" in own.data
    other = client.get(f"/events/blend/code/{theirs.id}")
    assert other.status_code == 404 and b"beta secret" not in other.data
    diff = client.get(f"/events/blend/diff?a={mine.id}&b={theirs.id}")
    assert diff.status_code == 404 and b"beta secret" not in diff.data


def test_anonymous_visitor_cannot_read_code(client, db):
    event = add_event(db, state=EventState.CLOSED)
    submission = add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5)
    response = client.get(f"/events/blend/code/{submission.id}")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_every_code_and_diff_readable_after_close(client, db):
    event = add_event(db, state=EventState.CLOSED)
    alpha, beta = add_team(db, event, "alpha"), add_team(db, event, "beta")
    a = add_submission(db, alpha, "a1", public=0.5, code="x = 1\ny = '<b>'\n")
    b = add_submission(db, beta, "b1", public=0.6, code="x = 2\ny = '<b>'\n")
    login(client, add_user(db, "s@x.org", alpha))
    assert b"x = 2" in client.get(f"/events/blend/code/{b.id}").data
    diff = client.get(f"/events/blend/diff?a={a.id}&b={b.id}").get_data(as_text=True)
    assert 'class="diff"' in diff
    assert "alpha / a1" in diff and "beta / b1" in diff
    assert "&lt;b&gt;" in diff and "'<b>'" not in diff  # file lines are escaped


def test_instructor_reads_any_code_while_open(client, db):
    event = add_event(db)
    submission = add_submission(db, add_team(db, event, "alpha"), "a1", code="z = 3\n")
    login(client, add_user(db, "i@x.org", instructor=True))
    assert b"z = 3" in client.get(f"/events/blend/code/{submission.id}").data


def test_code_of_another_event_is_not_found(client, db):
    add_event(db, state=EventState.CLOSED)
    other = add_event(db, name="other", state=EventState.CLOSED)
    submission = add_submission(db, add_team(db, other, "alpha"), "a1", public=0.5)
    login(client, add_user(db, "i@x.org", instructor=True))
    assert client.get(f"/events/blend/code/{submission.id}").status_code == 404
