from datetime import timedelta

from server.models import EventState, ScoreSplit, SubmissionScore, utcnow
from server.states import SubmissionState

PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)


def _score(db, submission, split, metric, value, fold=None, std_error=None):
    db.add(
        SubmissionScore(
            submission_id=submission.id,
            split=split,
            fold=fold,
            metric=metric,
            value=value,
            std_error=std_error,
        )
    )
    db.commit()


def test_list_shows_only_my_team(client, student, make_team, make_user, make_submission):
    other = make_team(
        student.event, make_user(email="bob@example.org", name="Bob"), name="Sombrero"
    )
    make_submission(student, name="ours")
    make_submission(other, name="theirs")
    page = client.get("/events/school/submissions").data
    assert b"ours" in page
    assert b"theirs" not in page


def test_list_shows_queue_position(client, student, make_submission):
    make_submission(student, name="first", age=timedelta(minutes=10))
    page = client.get("/events/school/submissions").data
    assert b"#1 in the queue" in page


def test_detail_shows_state_timings_and_public_scores(client, student, make_submission, db):
    started = utcnow() - timedelta(seconds=100)
    submission = make_submission(
        student,
        state=SubmissionState.SCORED,
        train_seconds=42.5,
        started_at=started,
        finished_at=started + timedelta(seconds=90),
        preview_png=PNG,
    )
    _score(db, submission, ScoreSplit.VALID, "acc", 0.8125, fold=0)
    _score(db, submission, ScoreSplit.PUBLIC, "acc", 0.75, std_error=0.0625)
    _score(db, submission, ScoreSplit.PRIVATE, "acc", 0.6875)
    _score(db, submission, ScoreSplit.PUBLIC, "retired_score", 0.5)  # no longer in the kit
    page = client.get(f"/submissions/{submission.id}").get_data(as_text=True)
    assert "scored" in page
    assert "42.5 s" in page and "90.0 s" in page
    assert "fold 0 valid" in page and "0.81" in page  # at the kit's precision
    assert "<th>acc ↑</th>" in page  # the leaderboard's header for the score
    assert "0.75 ± 0.06" in page  # with its standard error on the public half
    assert "0.69" not in page  # private scores stay hidden while the event is open
    assert "retired_score" not in page
    assert f"/submissions/{submission.id}/preview.png" in page


def test_detail_shows_private_scores_once_closed(client, student, make_submission, db):
    submission = make_submission(student, state=SubmissionState.SCORED)
    _score(db, submission, ScoreSplit.PRIVATE, "acc", 0.6875)
    student.event.state = EventState.CLOSED
    db.commit()
    assert b"0.69" in client.get(f"/submissions/{submission.id}").data


def test_detail_shows_the_kits_diagnostics_as_bars(client, student, make_submission, db):
    breakdown = {"title": "acc by class", "score": "acc", "bins": ["setosa", "virginica"]}
    submission = make_submission(
        student,
        state=SubmissionState.SCORED,
        diagnostics=[{**breakdown, "values": [1.0, 0.5], "counts": [10, 12]}],
    )
    page = client.get(f"/submissions/{submission.id}").get_data(as_text=True)
    assert "<h3>acc by class</h3>" in page
    assert '<td>virginica</td><td class="num">12</td>' in page
    assert 'style="width: 50.0%"' in page  # 0.5 drawn at half the best bin's bar


def test_detail_shows_traceback_escaped(client, student, make_submission):
    submission = make_submission(
        student,
        state=SubmissionState.FAILED,
        error_summary="ValueError in fit",
        error_traceback='File "estimator.py", line 3\nValueError: <script>alert(1)</script>',
    )
    page = client.get(f"/submissions/{submission.id}").data
    assert b"ValueError in fit" in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert b"<script>alert(1)" not in page


def test_detail_of_running_submission_polls_status(client, student, make_submission):
    submission = make_submission(student, state=SubmissionState.TRAINING, log_tail="epoch 3/10")
    page = client.get(f"/submissions/{submission.id}").data
    assert b"status.js" in page
    assert b"epoch 3/10" in page


def test_status_json(client, student, make_submission):
    submission = make_submission(student, state=SubmissionState.QUEUED, log_tail="")
    data = client.get(f"/submissions/{submission.id}/status.json").get_json()
    assert data == {
        "state": "queued",
        "label": "queued",
        "is_final": False,
        "queue_position": 1,
        "log_tail": "",
        "error_summary": None,
    }


def test_preview_png_served(client, student, make_submission):
    submission = make_submission(student, preview_png=PNG)
    response = client.get(f"/submissions/{submission.id}/preview.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data == PNG


def test_preview_missing_404(client, student, make_submission):
    submission = make_submission(student)
    assert client.get(f"/submissions/{submission.id}/preview.png").status_code == 404


def test_other_team_submission_404(client, student, make_team, make_user, make_submission):
    other = make_team(
        student.event, make_user(email="bob@example.org", name="Bob"), name="Sombrero"
    )
    submission = make_submission(other, preview_png=PNG)
    for suffix in ("", "/status.json", "/preview.png"):
        assert client.get(f"/submissions/{submission.id}{suffix}").status_code == 404


def test_instructor_sees_every_submission(client, auth, student, make_user, make_submission):
    submission = make_submission(student, name="ours")
    make_user(email="prof@example.org", name="Prof", instructor=True)
    auth.logout()
    auth.login(email="prof@example.org")
    assert client.get(f"/submissions/{submission.id}").status_code == 200
    page = client.get("/events/school/submissions").data
    assert b"All submissions" in page and b"ours" in page


def test_submission_pages_need_login(client, student, auth, make_submission):
    submission = make_submission(student)
    auth.logout()
    response = client.get(f"/submissions/{submission.id}")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
