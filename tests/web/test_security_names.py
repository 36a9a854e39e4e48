"""Look-alike and invisible names: refused before anyone else sees them."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.models import EventState, Team, User
from server.names import NameRefusedError, clean_name, name_key
from server.web.team_rules import TeamRefusedError, check_new_team

LOOKALIKES = [
    "u-netters",  # another case
    "U\u2010Netters",  # U+2010 HYPHEN for the hyphen-minus
    "U\u2212Netters",  # MINUS SIGN
    "\uff35-\uff2e\uff45\uff54\uff54\uff45\uff52\uff53",  # full-width letters
    "U-Netters ",  # a trailing space
    "U-NETTERS",
]
INVISIBLE = [
    "U-Net\u200bters",  # ZERO WIDTH SPACE
    "\u202eU-Netters",  # RIGHT-TO-LEFT OVERRIDE
    "U-Netters\u2066",  # LEFT-TO-RIGHT ISOLATE
    "U-Net\u00adters",  # SOFT HYPHEN
    "U-Netters\u3164",  # HANGUL FILLER
    "U-Net\x07ters",  # a control character
]


def _flashes(client) -> list[str]:
    with client.session_transaction() as session:
        return [message for _, message in session.get("_flashes", [])]


@pytest.mark.parametrize("name", LOOKALIKES)
def test_lookalike_of_an_existing_team_refused(db, make_event, make_team, name):
    event = make_event()
    make_team(event, name="U-Netters")
    with pytest.raises(TeamRefusedError, match="A team named 'U-Netters' already exists"):
        check_new_team(db, event, name)


@pytest.mark.parametrize("name", INVISIBLE)
def test_invisible_characters_refused(db, make_event, name):
    event = make_event()
    with pytest.raises(TeamRefusedError, match="invisible or text-direction character"):
        check_new_team(db, event, name)
    with pytest.raises(NameRefusedError):
        Team(event_id=event.id, name=name)  # the model refuses them too, whoever creates it


def test_latin_mixed_with_cyrillic_refused(db, make_event):
    with pytest.raises(TeamRefusedError, match="mixes Latin letters with Cyrillic"):
        check_new_team(db, make_event(), "U-N\u0435tters")  # CYRILLIC SMALL LETTER IE


def test_names_in_one_script_accepted():
    assert clean_name("Équipe  Étoile") == "Équipe Étoile"
    assert clean_name("Галактики") == "Галактики"
    assert clean_name("銀河チーム") == "銀河チーム"
    assert clean_name("Γαλαξίες 2") == "Γαλαξίες 2"


def test_database_refuses_a_lookalike_that_skipped_the_check(db, make_event, make_team):
    event = make_event()
    make_team(event, name="U-Netters")
    db.add(Team(event_id=event.id, name="U\u2010netters"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()
    assert db.scalars(select(Team.name)).all() == ["U-Netters"]


def test_same_name_allowed_in_another_event(db, make_event, make_team):
    make_team(make_event(), name="U-Netters")
    assert check_new_team(db, make_event(name="other"), "u-netters") == "u-netters"


def test_team_creation_page_refuses_lookalike(client, make_event, make_team, make_user, auth):
    event = make_event()
    make_team(event, name="U-Netters")
    make_user()
    auth.login()
    client.post("/events/school/team/create", data={"team_name": "U\u2010Netters"})
    assert any("A team named 'U-Netters' already exists" in m for m in _flashes(client))
    assert len(event.teams) == 1


def test_team_creation_page_refuses_invisible_characters(client, make_event, make_user, auth):
    make_event()
    make_user()
    auth.login()
    response = client.post("/events/school/team/create", data={"team_name": "\u202eU-Netters"})
    assert response.status_code == 302
    assert any("invisible or text-direction character" in m for m in _flashes(client))


def test_team_creation_refused_in_a_closed_event(client, db, make_event, make_user, auth):
    make_event(state=EventState.CLOSED)
    make_user()
    auth.login()
    client.post("/events/school/team/create", data={"team_name": "Latecomers"})
    assert any("only while the event is open" in m for m in _flashes(client))
    assert db.scalars(select(Team)).all() == []


def test_signup_name_with_bidi_override_refused(client, db, password):
    response = client.post(
        "/auth/signup",
        data={
            "name": "Ada\u202e",
            "email": "ada@example.org",
            "password": password,
            "confirm": password,
        },
    )
    assert b"invisible or text-direction character" in response.data
    assert db.scalars(select(User)).all() == []


def test_signup_name_shown_normalised(client, db, password):
    client.post(
        "/auth/signup",
        data={
            "name": "\uff21da   Lovelace",  # full-width A, three spaces
            "email": "ada@example.org",
            "password": password,
            "confirm": password,
        },
    )
    assert db.scalars(select(User.name)).one() == "Ada Lovelace"


def test_csv_import_joins_lookalike_spellings_into_one_team(deblend_cli, db, make_event, tmp_path):
    make_event(state=EventState.DRAFT)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "name,email,team\nAda,ada@example.org,U-Netters\nBruno,bruno@example.org,u\u2010netters\n",
        encoding="utf-8",
    )
    result = deblend_cli(
        "import-students", str(roster), "--event", "school", "--out", str(tmp_path / "pw.csv")
    )
    assert result.exit_code == 0, result.output
    assert db.scalars(select(Team.name)).all() == ["U-Netters"]


def test_csv_import_refuses_invisible_name(deblend_cli, db, make_event, tmp_path):
    roster = tmp_path / "roster.csv"
    make_event(state=EventState.DRAFT)
    roster.write_text("name,email,team\nAda\u200b,ada@example.org,Andromeda\n", encoding="utf-8")
    result = deblend_cli(
        "import-students", str(roster), "--event", "school", "--out", str(tmp_path / "pw.csv")
    )
    assert result.exit_code == 1
    assert "line 2: Your name contains an invisible" in result.output
    assert db.scalars(select(User)).all() == []


def test_keys_fold_case_dashes_and_width():
    assert name_key("U\u2010Netters") == name_key("u-netters") == name_key("\uff35-NETTERS")
    assert name_key("U-Netters") != name_key("U_Netters")


def test_joining_a_team_refused_in_a_closed_event(
    client, db, make_event, make_team, make_user, auth
):
    """A closed event's final results must not gain members after the fact."""
    event = make_event(state=EventState.CLOSED)
    team = make_team(event, make_user(email="winner@example.org", name="Winner"), name="Top")
    make_user()
    auth.login()
    client.post("/events/school/team/join", data={"join_code": team.join_code})
    assert any("only while the event is open" in m for m in _flashes(client))
    db.expire_all()
    assert len(db.get(Team, team.id).members) == 1


def test_upgrade_keeps_lookalike_teams_that_already_coexisted(database_url, capsys):
    """Before 0002 nothing stopped look-alikes: the upgrade keys them apart, names them, and
    keeps every team's members and submissions."""
    from alembic import command
    from sqlalchemy import text

    from server.cli import alembic_config
    from server.db import make_engine

    config = alembic_config(database_url)
    command.upgrade(config, "0001")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (id, name, title, state, public_data_dir, hidden_data_dir,"
                " n_folds, use_gpu, min_gap_seconds, max_per_day, timeout_seconds,"
                " memory_limit_mb, max_retries, created_at) VALUES (1, 'school', 'School',"
                " 'OPEN', '/p', '/h', 1, false, 0, 10, 60, 1024, 2, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO users (id, email, name, is_instructor, must_change_password,"
                " created_at) VALUES (1, 'ada@example.org', 'Ada', false, false,"
                " CURRENT_TIMESTAMP)"
            )
        )
        for team_id, name in ((1, "U-Netters"), (2, "u\u2010netters"), (3, "Andromeda")):
            connection.execute(
                text(
                    "INSERT INTO teams (id, event_id, name, join_code, created_at)"
                    " VALUES (:id, 1, :name, :code, CURRENT_TIMESTAMP)"
                ),
                {"id": team_id, "name": name, "code": f"CODE{team_id}"},
            )
        connection.execute(
            text("INSERT INTO team_members (event_id, team_id, user_id) VALUES (1, 1, 1)")
        )
    command.upgrade(config, "0002")
    with engine.connect() as connection:
        keys = dict(connection.execute(text("SELECT id, name_key FROM teams")).all())
        members = connection.execute(text("SELECT team_id FROM team_members")).all()
        versions = connection.execute(text("SELECT session_version FROM users")).all()
    engine.dispose()
    assert keys == {1: "u-netters", 2: "u-netters #2", 3: "andromeda"}
    assert members == [(1,)] and versions == [(0,)]
    assert (
        "team 2 'u\u2010netters' looks like another team of its event" in capsys.readouterr().out
    )
