"""Student-controlled text reaching instructors' pages: escaped, control bytes made visible."""

from server.models import EventState, SubmissionFile


def test_admin_unknown_action_404_escapes_the_name(
    client, make_user, make_event, make_team, make_submission, auth
):
    make_user(email="teacher@example.org", name="Teacher", instructor=True)
    submission = make_submission(make_team(make_event()))
    auth.login(email="teacher@example.org")
    response = client.post(f"/admin/submissions/{submission.id}/<img src=x onerror=alert(1)>")
    assert response.status_code == 404
    assert b"<img" not in response.data
    assert b"&lt;img src=x onerror=alert(1)&gt;" in response.data


def test_diff_of_files_with_nul_and_control_bytes(
    client, db, make_user, make_event, make_team, make_submission, auth
):
    """difflib marks changes with NUL+ / NUL- / NUL^ ... SOH inside the text: a file holding
    SOH used to close the diff's <span> tags early and leave stray ones."""
    make_user(email="teacher@example.org", name="Teacher", instructor=True)
    team = make_team(make_event(state=EventState.CLOSED))
    left, right = make_submission(team, name="left"), make_submission(team, name="right")
    contents = {
        left: b"same line\nrate = 1 \x00+ forged \x01 \x1b[31m\n",
        right: b"same line\nrate = 2 \x00+ forged \x01 \x1b[31m\n",
    }
    for submission, content in contents.items():
        submission.files.append(SubmissionFile(name="notes.txt", content=content, sha256="0"))
    db.commit()
    auth.login(email="teacher@example.org")
    response = client.get(f"/events/school/diff?a={left.id}&b={right.id}&file=notes.txt")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    table = page[page.index("<table") : page.rindex("</table>")]
    # Only the real change (1 -> 2) is marked, once per side; every span is closed.
    assert table.count('<span class="diff_chg">') == 2
    assert table.count("<span") == table.count("</span>") == 2
    assert "\u2400+&nbsp;forged&nbsp;\u2401&nbsp;\u241b[31m" in table
