"""What holds password hashes, code, private scores or passwords is private to its owner."""

import os
import stat

from server.private_files import private_sqlite_database, write_private_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_sqlite_database_is_private(app_factory, tmp_path):
    old = os.umask(0o022)  # the usual umask, under which SQLite alone makes it 0644
    try:
        url = f"sqlite:///{tmp_path / 'fresh' / 'deblend.sqlite'}"
        app = app_factory(DATABASE_URL=url)
        app.test_client().get("/")  # the app writes: WAL and shared-memory files appear
    finally:
        os.umask(old)
    database = tmp_path / "fresh" / "deblend.sqlite"
    assert _mode(database) == 0o600
    for companion in ("-wal", "-shm"):
        path = tmp_path / "fresh" / f"deblend.sqlite{companion}"
        if path.exists():
            assert _mode(path) == 0o600


def test_init_db_makes_an_old_world_readable_database_private(deblend_cli, tmp_path):
    database = tmp_path / "old.sqlite"
    private_sqlite_database(f"sqlite:///{database}")
    database.chmod(0o644)  # as an earlier version created it
    (tmp_path / "cli-config.toml").write_text(
        f'database_url = "sqlite:///{database}"\nvar_dir = "{tmp_path / "var"}"\n'
    )
    assert deblend_cli("init-db").exit_code == 0
    assert _mode(database) == 0o600


def test_passwords_file_of_the_import_is_private(deblend_cli, make_event, tmp_path):
    make_event()
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email,team\nAda,ada@example.org,Andromeda\n")
    out = tmp_path / "passwords.csv"
    result = deblend_cli("import-students", str(roster), "--event", "school", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert _mode(out) == 0o600
    assert "ada@example.org" in out.read_text()


def test_private_text_is_written_once_and_private(tmp_path):
    path = tmp_path / "var" / "demo-password"
    assert write_private_text(path, "first")
    assert not write_private_text(path, "second")  # a second writer does not replace it
    assert path.read_text() == "first"
    assert _mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["demo-password"]
