import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from server.models import EventState, Submission
from server.states import SubmissionState
from server.web.submission_rules import SubmissionRefusedError, check_rate


def _upload(client, source, name="unet", extras=(), element="estimator.py"):
    """Upload the kit's element file (``estimator.py``) and ``extras`` in one file input."""
    content = source.encode() if isinstance(source, str) else source
    files = [(io.BytesIO(content), element)]
    files += [(io.BytesIO(extra), filename) for filename, extra in extras]
    data = {"upload-name": name, "upload-files": files}
    return client.post(
        "/events/school/submit",
        data=data,
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def _edit(client, source, name="edited"):
    return client.post(
        "/events/school/submit",
        data={"edit-name": name, "edit-sources-0": source},
        follow_redirects=True,
    )


def _names(db):
    db.expire_all()
    return sorted(db.scalars(select(Submission.name)).all())


def test_upload_received_after_commit(client, student, db, good_source):
    response = _upload(client, good_source, extras=[("weights.h5", b"\x89HDF")])
    assert b"Submission &#39;unet&#39; received; it is queued." in response.data
    submission = db.scalars(select(Submission)).one()
    assert submission.state == SubmissionState.QUEUED
    assert submission.team_id == student.id
    assert {f.name: f.content for f in submission.files} == {
        "estimator.py": good_source.encode(),
        "weights.h5": b"\x89HDF",
    }
    assert response.request.path == f"/submissions/{submission.id}"


def test_edit_in_browser_received(client, student, db, good_source):
    response = _edit(client, good_source)
    assert b"Submission &#39;edited&#39; received" in response.data
    files = db.scalars(select(Submission)).one().files
    assert [(f.name, f.content) for f in files] == [("estimator.py", good_source.encode())]


def test_edit_form_prefilled_with_starting_kit_then_last_submission(
    client, student, make_submission, db
):
    page = client.get("/events/school/submit").data
    assert b"def get_estimator():" in page  # the kit's starting kit
    assert b"<code>estimator.py</code>" in page  # the kit's element, named in the editor
    submission = make_submission(student)
    submission.files[0].content = b"# our best model\ndef get_estimator(): ..."
    db.commit()
    assert b"# our best model" in client.get("/events/school/submit").data


def test_upload_that_does_not_parse_refused(client, student, db):
    response = _upload(client, "def get_estimator(:\n")
    assert b"estimator.py does not parse: invalid syntax at line 1" in response.data
    assert _names(db) == []


def test_upload_without_the_kits_element_refused(client, student, db, good_source):
    response = _upload(client, good_source, element="classifier.py")
    expected = b"submissions are made of estimator.py; missing: estimator.py."
    assert expected in response.data
    assert _names(db) == []


@pytest.mark.parametrize("name", ["has space", "x" * 41, "../up", "é"])
def test_bad_submission_name_refused(client, student, db, good_source, name):
    response = _upload(client, good_source, name=name)
    assert b"is not allowed: use 1 to 40 letters, digits" in response.data
    assert _names(db) == []


def test_duplicate_name_refused(client, student, db, good_source, make_submission):
    make_submission(student, name="unet", age=timedelta(days=2))
    response = _upload(client, good_source, name="unet")
    assert b"Your team already has a submission named &#39;unet&#39;" in response.data
    assert _names(db) == ["unet"]


def test_too_big_file_refused(client, student, db, good_source):
    # SUBMISSION_MAX_FILE_BYTES is 4096 in the tests.
    response = _upload(client, good_source, extras=[("weights.npz", bytes(5000))])
    assert (
        b"Extra file &#39;weights.npz&#39; is larger than the limit of 4,096 bytes"
        in response.data
    )
    big_code = good_source + "#" * 5000
    assert (
        b"estimator.py is larger than the limit of 4,096 bytes" in _upload(client, big_code).data
    )
    assert _names(db) == []


def test_too_many_files_refused(client, student, db, good_source):
    extras = [(f"w{i}.npz", b"x") for i in range(3)]
    assert b"3 extra files uploaded; at most 2" in _upload(client, good_source, extras=extras).data


def test_request_over_max_content_length_413(client, student, good_source):
    response = _upload(client, good_source, extras=[("big.npz", bytes(70 * 1024))])
    assert response.status_code == 413
    assert b"The upload is larger than the 64 KiB allowed" in response.data


@pytest.mark.parametrize("filename", ["../../etc/cron.py", "..\\evil.py", "sub/dir.py"])
def test_path_traversal_name_refused(client, student, db, good_source, filename):
    response = _upload(client, good_source, extras=[(filename, b"x = 1")])
    assert b"contains a path" in response.data
    assert _names(db) == []


def test_extra_file_extension_refused(client, student, db, good_source):
    response = _upload(client, good_source, extras=[("run.sh", b"rm -rf /")])
    assert b"Extra file &#39;run.sh&#39; has an extension that is not accepted" in response.data


def test_min_gap_refused(client, student, db, good_source, make_submission):
    make_submission(student, name="recent", age=timedelta(seconds=60))
    response = _upload(client, good_source)
    assert b"submissions must be at least 300 s apart. Try again in" in response.data
    assert _names(db) == ["recent"]


def test_max_per_day_refused(client, student, db, good_source, make_submission):
    for i in range(10):
        make_submission(student, name=f"s{i}", age=timedelta(hours=23 - i))
    response = _upload(client, good_source)
    assert b"10 submissions in the last 24 hours; the limit is 10" in response.data
    make_submission(student, name="old", age=timedelta(hours=30))
    assert len(_names(db)) == 11


def test_platform_fault_not_counted(client, student, db, good_source, make_submission):
    make_submission(
        student,
        name="lost",
        age=timedelta(seconds=30),
        state=SubmissionState.FAILED,
        platform_fault=True,
    )
    response = _upload(client, good_source)
    assert b"received; it is queued." in response.data


def test_event_closed_refused_for_students(client, student, db, good_source):
    student.event.state = EventState.CLOSED
    db.commit()
    assert b"This event is not open for submissions." in _upload(client, good_source).data
    assert _names(db) == []


def test_instructor_submits_when_closed_and_without_limits(
    client, auth, make_user, make_event, make_team, make_submission, good_source
):
    prof = make_user(email="prof@example.org", name="Prof", instructor=True)
    team = make_team(make_event(state=EventState.CLOSED), prof, name="Staff")
    make_submission(team, name="baseline", age=timedelta(seconds=5))
    auth.login(email="prof@example.org")
    assert b"received; it is queued." in _upload(client, good_source).data


def test_submit_without_team_redirects_to_event(client, auth, make_user, make_event):
    make_event()
    make_user()
    auth.login()
    response = client.get("/events/school/submit", follow_redirects=True)
    assert b"Create or join a team before submitting." in response.data


def test_rate_rule_next_slot_worked_by_hand():
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    # 3 submissions at 13:00, 20:00 and 11:00 the day before/today; limit 2 per day:
    # the window holds 20:00 (yesterday) and 11:00, so a slot frees at 20:00 today.
    times = [now - timedelta(hours=h) for h in (23, 16, 1)]
    with pytest.raises(SubmissionRefusedError, match="possible at 2026-07-01 20:00 UTC"):
        check_rate(now, times, min_gap_seconds=0, max_per_day=2)
    check_rate(now, times[:1], min_gap_seconds=3600, max_per_day=2)
