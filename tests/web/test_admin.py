"""Instructor actions (re-queue, cancel), the queue and worker pages, and the CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from leaderboard_fixtures import add_event, add_submission, add_team, add_user, login

from server.models import (
    DispatcherHeartbeat,
    Submission,
    SubmissionScore,
    WorkerStatus,
    utcnow,
)
from server.states import SubmissionState


@pytest.fixture
def instructor(client, db):
    user = add_user(db, "i@x.org", instructor=True)
    login(client, user)
    return user


def fresh(db, submission: Submission) -> Submission:  # noqa: ANN001
    db.expire_all()
    return db.get(Submission, submission.id)


def test_requeue_resets_a_scored_submission(client, db, instructor):
    event = add_event(db)
    submission = add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5)
    submission.attempts, submission.platform_fault = 2, True
    db.commit()
    response = client.post(f"/admin/submissions/{submission.id}/requeue", follow_redirects=True)
    assert "Re-queued &#39;a1&#39; of team &#39;alpha&#39; (now queued)." in response.text
    after = fresh(db, submission)
    assert (after.state, after.attempts, after.platform_fault) == (
        SubmissionState.QUEUED,
        0,
        False,
    )
    assert db.query(SubmissionScore).count() == 0
    assert client.get("/events/blend/leaderboard.json").get_json()["rows"] == []


def test_cancel_a_queued_submission(client, db, instructor):
    event = add_event(db)
    submission = add_submission(
        db, add_team(db, event, "alpha"), "a1", state=SubmissionState.QUEUED
    )
    response = client.post(f"/admin/submissions/{submission.id}/cancel", follow_redirects=True)
    assert "Cancelled &#39;a1&#39;" in response.text
    assert fresh(db, submission).state == SubmissionState.CANCELLED


def test_cancel_a_scored_submission_is_refused_with_a_message(client, db, instructor):
    event = add_event(db)
    submission = add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5)
    response = client.post(f"/admin/submissions/{submission.id}/cancel", follow_redirects=True)
    assert response.status_code == 200
    assert "Could not cancel &#39;a1&#39; of team &#39;alpha&#39;" in response.text
    assert "cannot move a submission from &#39;scored&#39; to &#39;cancelled&#39;" in response.text
    assert fresh(db, submission).state == SubmissionState.SCORED


def test_requeue_a_pending_submission_is_refused(client, db, instructor):
    event = add_event(db)
    submission = add_submission(
        db, add_team(db, event, "alpha"), "a1", state=SubmissionState.WAITING
    )
    response = client.post(f"/admin/submissions/{submission.id}/requeue", follow_redirects=True)
    assert "Could not re-queue &#39;a1&#39;" in response.text
    assert fresh(db, submission).state == SubmissionState.WAITING


def test_students_get_403_on_admin_pages_and_actions(client, db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    submission = add_submission(db, team, "a1", public=0.5)
    login(client, add_user(db, "s@x.org", team))
    assert client.post(f"/admin/submissions/{submission.id}/requeue").status_code == 403
    for url in ("/admin/", "/admin/workers", "/admin/events/blend/queue"):
        assert client.get(url).status_code == 403
    assert client.get("/admin/events/blend/leaderboard.csv").status_code == 403
    assert client.get("/admin/events/blend/submissions.csv").status_code == 403
    assert fresh(db, submission).state == SubmissionState.SCORED


def test_actions_need_a_csrf_token(app_factory, db):
    event = add_event(db)
    submission = add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5)
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    login(client, add_user(db, "i@x.org", instructor=True))
    assert client.post(f"/admin/submissions/{submission.id}/requeue").status_code == 400
    assert b'name="csrf_token"' in client.get("/admin/events/blend/queue").data


def test_queue_page_lists_pending_submissions_with_their_state(client, db, instructor):
    event = add_event(db)
    alpha = add_team(db, event, "alpha")
    add_submission(db, alpha, "first", state=SubmissionState.QUEUED, minute=1)
    add_submission(db, alpha, "second", state=SubmissionState.WAITING, minute=2)
    add_submission(db, alpha, "done", public=0.5)
    page = client.get("/admin/events/blend/queue").get_data(as_text=True)
    assert "Pending (2)" in page and "Finished (1)" in page
    pending = page[page.index('id="pending"') : page.index('id="running"')]
    assert "<td>queued</td>" in pending and "<td>waiting</td>" in pending
    assert "done" not in pending


def test_workers_page_marks_stale_workers_and_dispatchers(client, db, instructor):
    event = add_event(db)
    db.add(WorkerStatus(address="tcp://gpu1:1", resources="GPU=1", last_seen=utcnow()))
    db.add(WorkerStatus(address="tcp://gpu2:1", last_seen=utcnow() - timedelta(minutes=5)))
    db.add(
        DispatcherHeartbeat(
            event_id=event.id, pid=42, host="head", scheduler_address="tcp://head:8786",
            last_seen=utcnow() - timedelta(seconds=90),
        )
    )  # fmt: skip
    db.commit()
    page = client.get("/admin/workers").get_data(as_text=True)
    gpu1 = page[page.index("tcp://gpu1:1") : page.index("tcp://gpu2:1")]
    assert "<td>alive</td>" in gpu1 and "<td>stale</td>" not in gpu1
    assert "<td>stale</td>" in page[page.index("tcp://gpu2:1") :]
    dispatchers = page[page.index('id="dispatchers"') : page.index('id="workers"')]
    assert "<td>blend</td>" in dispatchers and "<td>stale</td>" in dispatchers
    assert "90 s ago" in dispatchers


def test_leaderboard_csv_has_full_precision_scores(client, db, instructor):
    event = add_event(db)
    add_submission(db, add_team(db, event, "alpha"), "a1", public=0.123456789, private=0.9)
    add_submission(db, add_team(db, event, "beta"), "b1", public=0.5, private=0.1)
    response = client.get("/admin/events/blend/leaderboard.csv?board=private")
    assert response.mimetype == "text/csv"
    assert "blend-private-leaderboard.csv" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["rank"], r["public_rank"], r["move"], r["team"]) for r in table] == [
        ("1", "2", "1", "alpha"),
        ("2", "1", "-1", "beta"),
    ]
    assert table[0]["public_acc"] == "0.123456789"
    assert table[0]["public_acc_se"] == ""  # no standard error was computed for this one
    # the page shortens times to '06-09 09:00'; the file keeps them whole
    assert table[0]["submitted_at"].startswith("2025-06-09T09:00:00")


def test_submissions_csv_lists_every_submission(client, db, instructor):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    add_submission(db, team, "good", public=0.5, private=0.25)
    add_submission(db, team, "bad", state=SubmissionState.FAILED, error="ValueError: shape")
    table = list(
        csv.DictReader(io.StringIO(client.get("/admin/events/blend/submissions.csv").text))
    )
    by_name = {row["submission"]: row for row in table}
    assert set(by_name) == {"good", "bad"}
    assert (
        by_name["bad"]["state"] == "failed"
        and by_name["bad"]["error_summary"] == "ValueError: shape"
    )
    assert by_name["good"]["private_acc"] == "0.25"
    assert by_name["bad"]["public_acc"] == ""


def test_admin_index_lists_events(client, db, instructor):
    add_event(db, name="blend")
    assert b"/admin/events/blend/queue" in client.get("/admin/").data
