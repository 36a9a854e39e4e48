"""The starting-kit zip gives students only the reference submissions the event marks public.

The kit of these tests (tests/kits/public_kit.py) has two reference submissions,
``starting_kit`` and ``logistic``, each one ``estimator.py``.
"""

import io
import zipfile

import pytest

from server.web.downloads import UnknownSubmissionError, check_public_submissions

KIT_FILES = ["kit/README.md", "kit/data/test.csv", "kit/data/train.csv", "kit/problem.py"]


def _zip_names(client, event_name: str = "school") -> list[str]:
    response = client.get(f"/events/{event_name}/starting-kit.zip")
    assert response.status_code == 200
    return sorted(zipfile.ZipFile(io.BytesIO(response.data)).namelist())


def test_zip_holds_only_the_marked_submissions_and_the_rest_of_the_kit(client, make_event):
    make_event("school", public_submissions=["starting_kit"])
    assert _zip_names(client) == [*KIT_FILES, "kit/submissions/starting_kit/estimator.py"]


def test_zip_of_an_unmarked_event_holds_every_submission(client, make_event):
    make_event("school")  # public_submissions left NULL, as for events made before the marking
    assert _zip_names(client) == [
        *KIT_FILES,
        "kit/submissions/logistic/estimator.py",
        "kit/submissions/starting_kit/estimator.py",
    ]


def test_zip_of_an_empty_marking_holds_no_submission_but_keeps_submissions_files(
    client, make_event, kit_root
):
    # A file beside the submission folders (their README) is part of the kit, not a submission.
    (kit_root / "submissions" / "README.md").write_text("# Reference submissions\n")
    make_event("school", public_submissions=[])
    assert _zip_names(client) == [*KIT_FILES, "kit/submissions/README.md"]


def test_zip_follows_a_change_of_the_marking(client, make_event, db):
    event = make_event("school", public_submissions=["logistic"])
    assert "kit/submissions/logistic/estimator.py" in _zip_names(client)
    # Same kit files, same mtimes: only the marking changes, and the cached zip must not serve.
    event.public_submissions = ["starting_kit"]
    db.commit()
    names = _zip_names(client)
    assert "kit/submissions/starting_kit/estimator.py" in names
    assert "kit/submissions/logistic/estimator.py" not in names


def test_two_events_of_one_kit_get_their_own_marking(client, make_event):
    make_event("school", public_submissions=["starting_kit"])
    make_event("rehearsal", public_submissions=["logistic"])
    assert "kit/submissions/logistic/estimator.py" not in _zip_names(client, "school")
    assert "kit/submissions/starting_kit/estimator.py" not in _zip_names(client, "rehearsal")


def test_check_public_submissions_keeps_known_names_once(kit_root):
    names = ["logistic", "starting_kit", "logistic"]
    assert check_public_submissions(kit_root, names) == ["logistic", "starting_kit"]


def test_check_public_submissions_names_the_folders_that_exist(kit_root):
    with pytest.raises(UnknownSubmissionError, match=r"'unet'.*among logistic, starting_kit"):
        check_public_submissions(kit_root, ["starting_kit", "unet"])
