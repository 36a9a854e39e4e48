"""Public, competition and private leaderboards, the JSON poll and the projector view."""

from __future__ import annotations

import gzip
from datetime import timedelta

from leaderboard_fixtures import (
    T0,
    add_event,
    add_submission,
    add_team,
    add_user,
    login,
    shared_kit_dir,
)

from server.kit import ScoreInfo, kit_info
from server.models import EventState
from server.states import SubmissionState
from server.web.ranking import Entry, event_with_token, load_entries, rank, refresh_entries

SCORES = kit_info(shared_kit_dir()).scores  # acc (official), error, nll, f1_70
HIGHER = ScoreInfo("acc", 2, lower_is_better=False, minimum=0, maximum=1)
LOWER = ScoreInfo("error", 2, lower_is_better=True, minimum=0, maximum=1)


def rows(client, url: str) -> list[list[str]]:  # noqa: ANN001
    response = client.get(url)
    assert response.status_code == 200, response.data
    return [row["cells"] for row in response.get_json()["rows"]]


def entry(submission_id: int, value: float | None, minute: int, metric="acc") -> Entry:
    return Entry(
        submission_id, submission_id, f"t{submission_id}", f"s{submission_id}",
        T0 + timedelta(minutes=minute), None, None, {metric: value}, {}, {}, {},
    )  # fmt: skip


def test_rank_ties_share_rank_and_earlier_submission_first():
    # 0.8 at minute 10 and 0.8 at minute 0 tie for first; 0.5 is third; no score is unranked.
    entries = [entry(1, 0.8, 10), entry(2, 0.5, 0), entry(3, 0.8, 0), entry(4, None, 0)]
    board = rank(entries, HIGHER)
    assert [(r.rank, r.entry.submission_id) for r in board] == [(1, 3), (1, 1), (3, 2), (None, 4)]


def test_rank_lower_is_better_score():
    # error: 0.1 beats 0.3
    errors = [entry(1, 0.3, 0, "error"), entry(2, 0.1, 0, "error")]
    assert [r.entry.submission_id for r in rank(errors, LOWER)] == [2, 1]


def test_public_board_orders_by_the_kits_official_score(client, db):
    event = add_event(db)
    alpha, beta = add_team(db, event, "alpha"), add_team(db, event, "beta")
    add_submission(db, alpha, "a1", public=0.5, private=0.9, minute=1)
    add_submission(db, beta, "b1", public=0.8, private=0.1, minute=2)
    add_submission(db, alpha, "a2", public=0.7, minute=3)
    table = rows(client, "/events/blend/leaderboard.json")
    assert [(r[0], r[1], r[2]) for r in table] == [
        ("1", "beta", "b1"),
        ("2", "alpha", "a2"),
        ("3", "alpha", "a1"),
    ]
    # every score at its kit's precision, the submission time (UTC, without the year) and the
    # training time are shown
    assert table[0][3:] == ["0.80", "0.20", "0.40", "0.20", "06-09 09:02", "2 min 05 s"]
    page = client.get("/events/blend/leaderboard").get_data(as_text=True)
    assert page.index("b1") < page.index("a2") < page.index("a1")


def test_board_columns_are_the_kits_scores_with_their_direction(client, db):
    add_submission(db, add_team(db, add_event(db), "alpha"), "a1", public=0.5)
    labels = ["acc ↑", "error ↓", "nll ↓", "f1_70 ↑"]
    poll = client.get("/events/blend/leaderboard.json").get_json()
    times = ["Submitted (UTC)", "Training"]
    assert poll["columns"] == ["Rank", "Team", "Submission", *labels, *times]
    assert poll["classes"] == ["num", "", "", "num", "num", "num", "num", "time", "num time"]
    page = client.get("/events/blend/leaderboard").get_data(as_text=True)
    assert '<th class="num">error ↓</th>' in page
    assert '<td class="num">0.50</td>' in page


def test_board_shows_the_official_scores_standard_error(client, db):
    submission = add_submission(db, add_team(db, add_event(db), "alpha"), "a1", public=0.5)
    for score in submission.scores:
        score.std_error = 0.04 if score.metric == "acc" else 0.5
    db.commit()
    cells = rows(client, "/events/blend/leaderboard.json")[0]
    assert cells[3:7] == ["0.50 ± 0.04", "0.50", "0.25", "0.12"]


def test_public_board_never_shows_private_scores_while_open(client, db):
    event = add_event(db)
    add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5, private=0.33)
    assert b"0.33" not in client.get("/events/blend/leaderboard.json").data
    assert b"0.33" not in client.get("/events/blend/leaderboard").data


def test_public_board_ignores_unscored_submissions(client, db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    add_submission(db, team, "failed", state=SubmissionState.FAILED)
    add_submission(db, team, "queued", state=SubmissionState.QUEUED)
    assert rows(client, "/events/blend/leaderboard.json") == []
    assert b"No scored submission yet." in client.get("/events/blend/leaderboard").data


def test_page_escapes_team_names(client, db):
    event = add_event(db)
    add_submission(db, add_team(db, event, "<script>x()</script>"), "a1", public=0.5)
    page = client.get("/events/blend/leaderboard").get_data(as_text=True)
    assert "<script>x()" not in page
    assert "&lt;script&gt;x()" in page


def test_competition_board_keeps_each_teams_best(client, db):
    event = add_event(db)
    alpha, beta = add_team(db, event, "alpha"), add_team(db, event, "beta")
    add_submission(db, alpha, "a1", public=0.9, minute=1)
    add_submission(db, alpha, "a2", public=0.6, minute=2)
    add_submission(db, beta, "b1", public=0.7, minute=3)
    add_submission(db, beta, "b2", public=0.75, minute=4)
    table = rows(client, "/events/blend/leaderboard.json?board=teams")
    assert [(r[0], r[1], r[2]) for r in table] == [("1", "alpha", "a1"), ("2", "beta", "b2")]
    assert b"b2" in client.get("/events/blend/leaderboard/teams").data


def test_private_board_forbidden_to_students_while_open(client, db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    add_submission(db, team, "a1", public=0.5, private=0.4)
    assert client.get("/events/blend/leaderboard/private").status_code == 403
    login(client, add_user(db, "s@x.org", team))
    assert client.get("/events/blend/leaderboard/private").status_code == 403
    assert client.get("/events/blend/leaderboard.json?board=private").status_code == 403
    assert client.get("/events/blend/projector?board=private").status_code == 403
    assert b"/leaderboard/private" not in client.get("/events/blend/leaderboard").data


def test_private_board_shown_to_instructors_while_open(client, db):
    event = add_event(db)
    add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5, private=0.4)
    login(client, add_user(db, "i@x.org", instructor=True))
    response = client.get("/events/blend/leaderboard/private")
    assert response.status_code == 200
    assert b"0.40" in response.data


def test_private_board_shown_to_everyone_after_close(client, db):
    event = add_event(db, state=EventState.CLOSED)
    add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5, private=0.4)
    response = client.get("/events/blend/leaderboard/private")
    assert response.status_code == 200
    assert b"0.40" in response.data


def test_private_board_moves_between_public_and_private_rank(client, db):
    event = add_event(db, state=EventState.CLOSED)
    # public ranks: alpha 1, beta 2, gamma 3; private ranks: gamma 1, beta 2, alpha 3
    add_submission(db, add_team(db, event, "alpha"), "a", public=0.9, private=0.6)
    add_submission(db, add_team(db, event, "beta"), "b", public=0.8, private=0.7)
    add_submission(db, add_team(db, event, "gamma"), "c", public=0.7, private=0.8)
    table = rows(client, "/events/blend/leaderboard.json?board=private")
    assert [r[:4] for r in table] == [
        ["1", "3", "▲ 2", "gamma"],
        ["2", "2", "=", "beta"],
        ["3", "1", "▼ 2", "alpha"],
    ]


def test_poll_with_current_token_says_unchanged(client, db):
    event = add_event(db)
    add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5)
    first = client.get("/events/blend/leaderboard.json").get_json()
    again = client.get(f"/events/blend/leaderboard.json?since={first['token']}")
    assert again.get_json() == {"changed": False, "token": first["token"]}
    assert again.headers["Cache-Control"] == "no-store"


def test_poll_after_new_score_returns_the_new_row(client, db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    add_submission(db, team, "a1", public=0.5)
    token = client.get("/events/blend/leaderboard.json").get_json()["token"]
    add_submission(db, team, "a2", public=0.9, minute=5)
    polled = client.get(f"/events/blend/leaderboard.json?since={token}").get_json()
    assert polled["changed"] is True
    assert polled["token"] != token
    assert [row["cells"][2] for row in polled["rows"]] == ["a2", "a1"]


def test_poll_changes_when_a_scored_submission_is_requeued(client, db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    add_submission(db, team, "a1", public=0.5)
    second = add_submission(db, team, "a2", public=0.6)
    token = client.get("/events/blend/leaderboard.json").get_json()["token"]
    second.set_state(SubmissionState.QUEUED)
    db.commit()
    polled = client.get(f"/events/blend/leaderboard.json?since={token}").get_json()
    assert [row["cells"][2] for row in polled["rows"]] == ["a1"]


def test_refresh_after_a_new_score_reads_only_that_submission(db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    add_submission(db, team, "a1", public=0.5)
    add_submission(db, team, "a2", public=0.6, minute=1)
    previous = load_entries(db, event.id, SCORES)
    add_submission(db, team, "a3", public=0.9, minute=5)
    _, token = event_with_token(db, event.name)
    # Since the last finish seen (a2's, kept: the bound is inclusive), not from the start.
    since = max(e.finished_at for e in previous)
    later = load_entries(db, event.id, SCORES, finished_since=since)
    assert sorted(e.name for e in later) == ["a2", "a3"]
    refreshed = refresh_entries(db, event.id, SCORES, token, previous)
    assert sorted(refreshed, key=lambda e: e.submission_id) == load_entries(db, event.id, SCORES)


def test_refresh_reloads_everything_when_a_submission_left_the_board(db):
    event = add_event(db)
    team = add_team(db, event, "alpha")
    first = add_submission(db, team, "a1", public=0.5)
    add_submission(db, team, "a2", public=0.6, minute=1)
    previous = load_entries(db, event.id, SCORES)
    first.set_state(SubmissionState.QUEUED)  # re-queued by an instructor: off the board
    db.commit()
    add_submission(db, team, "a3", public=0.7, minute=10)
    _, token = event_with_token(db, event.name)
    refreshed = refresh_entries(db, event.id, SCORES, token, previous)
    assert sorted(e.name for e in refreshed) == ["a2", "a3"]


def test_projector_anonymised_hides_team_and_submission_names(client, db):
    event = add_event(db)
    zeta, alpha = add_team(db, event, "zeta"), add_team(db, event, "alpha")
    add_submission(db, alpha, "alpha_unet", public=0.9)
    add_submission(db, zeta, "zeta_cnn", public=0.5)
    page = client.get("/events/blend/projector?anonymise=1").get_data(as_text=True)
    poll = client.get("/events/blend/leaderboard.json?board=teams&anonymise=1")
    for text in (page, poll.get_data(as_text=True)):
        assert "zeta" not in text and "alpha" not in text
    # numbered by team creation: zeta is Team 1 even though alpha leads
    assert [row["cells"][1] for row in poll.get_json()["rows"]] == ["Team 2", "Team 1"]
    assert b"alpha_unet" in client.get("/events/blend/projector").data


def test_draft_event_board_is_hidden_from_students(client, db):
    add_event(db, state=EventState.DRAFT)
    assert client.get("/events/blend/leaderboard").status_code == 404
    assert client.get("/events/blend/leaderboard.json").status_code == 404


def test_unknown_board_kind_is_a_bad_request(client, db):
    add_event(db)
    response = client.get("/events/blend/leaderboard.json?board=best")
    assert response.status_code == 400


def test_code_links_appear_only_after_close(client, db):
    event = add_event(db)
    submission = add_submission(db, add_team(db, event, "alpha"), "a1", public=0.5)
    link = f"/events/blend/code/{submission.id}".encode()
    assert link not in client.get("/events/blend/leaderboard").data
    event.state = EventState.CLOSED
    db.commit()
    assert link in client.get("/events/blend/leaderboard").data


def test_page_and_poll_are_gzipped_for_clients_that_accept_it(client, db):
    event = add_event(db)
    for number in range(20):  # enough rows for a body over 1 KiB
        add_submission(db, add_team(db, event, f"team{number}"), "s", public=number / 20)
    for url in ("/events/blend/leaderboard", "/events/blend/leaderboard.json"):
        plain = client.get(url)
        packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.data) == plain.data


def test_unchanged_page_answers_304_until_a_new_score(client, db):
    event = add_event(db)
    alpha = add_team(db, event, "alpha")
    add_submission(db, alpha, "a1", public=0.5)
    first = client.get("/events/blend/leaderboard")
    assert first.headers["Cache-Control"] == "no-cache"
    revalidate = {"If-None-Match": first.headers["ETag"]}
    assert client.get("/events/blend/leaderboard", headers=revalidate).status_code == 304
    add_submission(db, alpha, "a2", public=0.7, minute=5)
    again = client.get("/events/blend/leaderboard", headers=revalidate)
    assert again.status_code == 200
    assert "a2" in again.get_data(as_text=True)
