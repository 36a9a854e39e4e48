"""A student's first submission, end to end in Chromium, scored by the real dispatcher.

Sign up, create a team, upload deblender.py; a visitor's leaderboard, opened before, shows the
scored submission without a reload; the instructor sees the private rank and exports the CSV.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from livestack import DISK_DEBLENDER, SCORING_TIMEOUT, official_score, tail
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

STUDENT = {"name": "Ada Lovelace", "email": "ada@example.org", "password": "analytical engine"}
TEAM = "Andromeda"
SUBMISSION = "centred-disk"


def sign_up_and_create_team(page: Page, url: str, event: str) -> None:
    page.goto(f"{url}/auth/signup")
    page.get_by_label("Name").fill(STUDENT["name"])
    page.get_by_label("Email").fill(STUDENT["email"])
    page.get_by_label("Password", exact=True).fill(STUDENT["password"])
    page.get_by_label("Repeat password").fill(STUDENT["password"])
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator(".flash-success")).to_contain_text("Welcome, Ada Lovelace!")

    page.goto(f"{url}/events/{event}")
    page.get_by_label("Team name").fill(TEAM)
    page.get_by_role("button", name="Create a team").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Team '{TEAM}' created")


def upload(page: Page) -> int:
    """Upload deblender.py through the file input; returns the new submission's id."""
    page.get_by_role("link", name="Submit", exact=True).click()
    form = page.locator("form", has=page.get_by_role("button", name="Upload and submit"))
    form.get_by_label("Submission name").fill(SUBMISSION)
    form.locator("input[type=file][name='upload-files']").set_input_files(
        {"name": "deblender.py", "mimeType": "text/x-python", "buffer": DISK_DEBLENDER.encode()}
    )
    form.get_by_role("button", name="Upload and submit").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"Submission '{SUBMISSION}' received; it is queued."
    )
    expect(page.locator("#status [data-state]")).to_have_text("queued")
    expect(page.locator("h1")).to_have_text(f"Submission {SUBMISSION}")
    match = re.search(r"/submissions/(\d+)$", page.url)
    assert match, f"expected the submission's page after the upload, got {page.url}"
    return int(match.group(1))


def row_cells(page: Page, submission_id: int) -> list[str]:
    row = page.locator(f"table.board tbody tr[data-id='{submission_id}']")
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def header(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("table.board thead th").all_inner_texts()]


def test_upload_appears_on_open_leaderboard_then_in_private_ranking_and_csv(
    live_server, engine, new_page, tmp_path
) -> None:  # noqa: ANN001
    url, event = live_server.url, live_server.event

    # A visitor opens the public board first and keeps it open.
    board = new_page()
    script_errors: list[str] = []
    board.on("pageerror", lambda error: script_errors.append(str(error)))
    board.goto(f"{url}/events/{event}/leaderboard")
    expect(board.locator("table.board tbody")).to_contain_text("No scored submission yet.")
    board.evaluate("window.openedBeforeTheScore = 'still here'")

    student = new_page()
    sign_up_and_create_team(student, url, event)
    submission_id = upload(student)

    dispatcher = engine()
    row = board.locator(f"table.board tbody tr[data-id='{submission_id}']")
    try:
        expect(row).to_be_visible(timeout=SCORING_TIMEOUT * 1000)
    except AssertionError as error:
        student.reload()
        state = student.locator("#status [data-state]").inner_text()
        code = dispatcher.poll()
        running = "still runs" if code is None else f"exited with {code}"
        raise AssertionError(
            f"the submission (now {state!r}) never reached the open leaderboard; the dispatcher "
            f"{running}; its log:\n{tail(engine.log)}"
        ) from error

    # The live update redrew the table in place: same document, same URL.
    assert board.evaluate("window.openedBeforeTheScore") == "still here"
    assert board.url == f"{url}/events/{event}/leaderboard"
    cells = row_cells(board, submission_id)
    columns = header(board)
    assert columns[:3] == ["Rank", "Team", "Submission"]
    assert cells[:3] == ["1", TEAM, SUBMISSION]
    official = official_score()
    label = f"{official.name} {'↓' if official.lower_is_better else '↑'}"
    public_cell = cells[columns.index(label)]
    number = rf"-?\d+\.\d{{{official.precision}}}"
    assert re.fullmatch(rf"{number}( ± {number})?", public_cell), public_cell
    expect(board.locator("[data-board-status]")).to_contain_text("Updates live")
    assert script_errors == []

    # The student's page follows the run and lands on the scores.
    expect(student.locator("#status [data-state]")).to_have_text("scored", timeout=60_000)
    expect(student.get_by_role("heading", name="Hidden test set")).to_be_visible()

    # The instructor: private ranking, then its CSV.
    instructor = new_page()
    instructor.goto(f"{url}/auth/login")
    instructor.get_by_label("Email").fill(live_server.instructor_email)
    instructor.get_by_label("Password").fill(live_server.instructor_password)
    instructor.get_by_role("button", name="Log in").click()
    expect(instructor.locator(".flash-success")).to_contain_text("Logged in as Prof.")
    instructor.goto(f"{url}/events/{event}/leaderboard/private")
    expect(instructor.locator("h1")).to_contain_text("Private leaderboard")
    columns = header(instructor)
    assert columns[:5] == ["Rank", "Public rank", "Move", "Team", "Submission"]
    cells = row_cells(instructor, submission_id)
    assert cells[:5] == ["1", "1", "=", TEAM, SUBMISSION]
    private_cell = cells[columns.index(label)]
    assert cells[columns.index(f"public {label}")] == public_cell

    with instructor.expect_download() as download_info:
        instructor.get_by_role("link", name="CSV", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == f"{event}-private-leaderboard.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [(r["rank"], r["team"], r["submission"]) for r in rows] == [("1", TEAM, SUBMISSION)]
    assert rows[0]["submission_id"] == str(submission_id)
    for split, cell in (("private", private_cell), ("public", public_cell)):
        value = float(rows[0][f"{split}_{official.name}"])
        assert cell.startswith(f"{value:.{official.precision}f}")
