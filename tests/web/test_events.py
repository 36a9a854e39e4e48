import io
import zipfile

from sqlalchemy import select

from server.models import EventState, Team, TeamMember


def test_index_lists_open_events_not_drafts(client, make_event):
    make_event("school")
    make_event("rehearsal", state=EventState.DRAFT)
    page = client.get("/").data
    assert b"Deblending at school" in page
    assert b"rehearsal" not in page


def test_event_page_shows_the_kits_description_scores_and_downloads(client, make_event, kit_root):
    (kit_root / "DESCRIPTION.md").write_text(
        "# Iris\n\nClassify *irises*.\n\n<script>alert(1)</script>\n"
    )
    make_event("school")
    page = client.get("/events/school").get_data(as_text=True)
    assert "<h1>Iris</h1>" in page and "<em>irises</em>" in page  # Markdown, rendered
    assert "<script>alert(1)" not in page  # raw HTML in the description is shown, not run
    assert "<code>acc</code> (official: the leaderboard ranks on it),\n      higher" in page
    assert "<code>error</code>,\n      lower is better" in page
    assert "/events/school/starting-kit.zip" in page
    assert "Log in to download the public data" in page


def test_event_page_falls_back_to_the_kits_readme(client, make_event):
    make_event("school")
    assert b"Classify iris flowers from four measurements." in client.get("/events/school").data


def test_event_page_unknown_event_404(client):
    assert client.get("/events/nowhere").status_code == 404


def test_draft_event_hidden_from_students_shown_to_instructors(
    client, auth, make_user, make_event
):
    make_event("rehearsal", state=EventState.DRAFT)
    make_user()
    make_user(email="prof@example.org", name="Prof", instructor=True)
    auth.login()
    assert client.get("/events/rehearsal").status_code == 404
    auth.logout()
    auth.login(email="prof@example.org")
    assert client.get("/events/rehearsal").status_code == 200


def test_create_team_shows_join_code(client, auth, make_user, make_event, db):
    make_event("school")
    make_user()
    auth.login()
    response = client.post(
        "/events/school/team/create", data={"team_name": "Andromeda"}, follow_redirects=True
    )
    team = db.scalars(select(Team)).one()
    flashed = f"Team &#39;Andromeda&#39; created. Team mates join with the code {team.join_code}"
    assert flashed.encode() in response.data
    assert b"You are in team <strong>Andromeda</strong>" in response.data


def test_create_team_name_taken_refused(client, auth, make_user, make_event, make_team):
    event = make_event("school")
    make_team(event, name="Andromeda")
    make_user()
    auth.login()
    response = client.post(
        "/events/school/team/create", data={"team_name": "Andromeda"}, follow_redirects=True
    )
    assert b"A team named &#39;Andromeda&#39; already exists" in response.data


def test_join_team_with_code(client, auth, make_user, make_event, make_team, db):
    event = make_event("school")
    team = make_team(event, make_user(email="bob@example.org", name="Bob"))
    make_user()
    auth.login()
    response = client.post(
        "/events/school/team/join",
        data={"join_code": team.join_code.lower()},
        follow_redirects=True,
    )
    assert b"You joined team &#39;Andromeda&#39;." in response.data
    assert b"Bob, Ada" in response.data or b"Ada, Bob" in response.data
    assert len(db.scalars(select(TeamMember).where(TeamMember.team_id == team.id)).all()) == 2


def test_join_team_wrong_code_refused(client, auth, make_user, make_event):
    make_event("school")
    make_user()
    auth.login()
    response = client.post(
        "/events/school/team/join", data={"join_code": "NOPE1234"}, follow_redirects=True
    )
    assert b"No team of this event has that join code" in response.data


def test_second_team_in_same_event_refused(client, student, make_team, make_event, db):
    other = make_team(student.event, name="Sombrero")
    response = client.post(
        "/events/school/team/join", data={"join_code": other.join_code}, follow_redirects=True
    )
    assert b"You are already in a team for this event." in response.data
    response = client.post(
        "/events/school/team/create", data={"team_name": "Third"}, follow_redirects=True
    )
    assert b"You are already in a team for this event." in response.data
    assert db.scalars(select(Team).where(Team.name == "Third")).first() is None


def test_team_forms_need_login(client, make_event):
    make_event("school")
    response = client.post("/events/school/team/create", data={"team_name": "X"})
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_starting_kit_zip_holds_the_kit_folder(client, make_event):
    make_event("school")
    response = client.get("/events/school/starting-kit.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert "school-starting-kit.zip" in response.headers["Content-Disposition"]
    assert sorted(names) == [
        "kit/README.md",
        "kit/data/test.csv",
        "kit/data/train.csv",
        "kit/problem.py",
        "kit/submissions/logistic/estimator.py",
        "kit/submissions/starting_kit/estimator.py",
    ]  # under the kit folder's name, without __pycache__


def test_starting_kit_zip_adds_small_public_data_kept_apart(
    client, make_event, kit_root, tmp_path
):
    public = tmp_path / "release"
    public.mkdir()
    (kit_root / "data").rename(public / "data")  # the release lives apart from the kit
    make_event("school", public_data_dir=str(public))
    names = zipfile.ZipFile(
        io.BytesIO(client.get("/events/school/starting-kit.zip").data)
    ).namelist()
    assert "kit/data/train.csv" in names
    assert "kit/problem.py" in names


def test_starting_kit_zip_rebuilt_when_kit_changes(client, make_event, kit_root):
    make_event("school")
    client.get("/events/school/starting-kit.zip")
    (kit_root / "notes.md").write_text("read me")
    names = zipfile.ZipFile(
        io.BytesIO(client.get("/events/school/starting-kit.zip").data)
    ).namelist()
    assert "kit/notes.md" in names


def _data_dirs(tmp_path):
    public, hidden = tmp_path / "public", tmp_path / "hidden"
    for split in ("train", "test"):
        (public / "data" / split).mkdir(parents=True)
        (public / "data" / split / "blends.fits").write_bytes(b"SIMPLE" + bytes(3000))
    (public / "README.txt").write_text("outside data/")
    (hidden / "labels").mkdir(parents=True)
    (hidden / "labels" / "truth.fits").write_bytes(b"secret truth")
    return public, hidden


def test_public_data_zip_holds_public_data_only(client, make_user, make_event, auth, tmp_path):
    public, hidden = _data_dirs(tmp_path / "event")
    make_user()
    make_event("school", public_data_dir=str(public))
    auth.login()
    # A link to the hidden set inside the public data must not leak it.
    (public / "data" / "labels").symlink_to(hidden / "labels")
    (public / "data" / "truth.fits").symlink_to(hidden / "labels" / "truth.fits")
    response = client.get("/events/school/public-data.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == [
        "school-data/test/blends.fits",
        "school-data/train/blends.fits",
    ]
    assert archive.read("school-data/train/blends.fits") == b"SIMPLE" + bytes(3000)
    assert b"secret truth" not in response.data


def test_public_data_needs_login(client, make_event, tmp_path):
    _data_dirs(tmp_path)
    make_event("school")
    assert client.get("/events/school/public-data.zip").status_code == 302


def test_public_data_missing_dir_404(client, make_user, make_event, auth, tmp_path):
    make_user()
    make_event("school", public_data_dir=str(tmp_path / "nowhere"))
    auth.login()
    assert client.get("/events/school/public-data.zip").status_code == 404


def test_server_error_page_rolls_back(app_factory, make_event):
    app = app_factory(TESTING=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert b"Something went wrong." in response.data
