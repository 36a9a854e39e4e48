"""The web app refuses to start on settings that let sessions be forged or copied."""

import re
import secrets
from pathlib import Path

import pytest

from server.config import CONFIG_ENV, ConfigError, load_settings
from server.db import Base
from server.models import User
from server.web import create_app

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "config.example.toml"


@pytest.fixture
def start_with(tmp_path, monkeypatch):
    """Starts the web app on a settings file holding ``lines`` (plus a local database)."""

    def start(*lines: str):
        config = tmp_path / "config.toml"
        config.write_text(
            f'var_dir = "{tmp_path / "var"}"\n'
            f'database_url = "sqlite:///{tmp_path / "db.sqlite"}"\n' + "\n".join(lines) + "\n"
        )
        monkeypatch.setenv(CONFIG_ENV, str(config))
        return create_app()

    return start


def test_shipped_example_settings_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLE_CONFIG))
    with pytest.raises(ConfigError, match="example value"):
        create_app({"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/db"})


@pytest.mark.parametrize("key", ["CHANGE-ME", "change-me", "changeme", "secret"])
def test_example_secret_key_refused_even_without_public_url(start_with, key):
    with pytest.raises(ConfigError, match="example value"):
        start_with(f'secret_key = "{key}"')


def test_production_without_secret_key_refused(start_with):
    with pytest.raises(ConfigError, match="secret_key is missing"):
        start_with('public_url = "https://deblend.example.org"')


def test_production_short_secret_key_refused(start_with):
    with pytest.raises(ConfigError, match="31 characters; at least 32"):
        start_with('public_url = "https://deblend.example.org"', f'secret_key = "{"k" * 31}"')


def test_https_with_insecure_cookies_refused(start_with):
    key = secrets.token_hex(32)
    with pytest.raises(
        ConfigError, match="session_cookie_secure is false but public_url is https"
    ):
        start_with(
            'public_url = "https://deblend.example.org"',
            f'secret_key = "{key}"',
            "session_cookie_secure = false",
        )


def test_public_url_must_be_an_address(start_with):
    with pytest.raises(ConfigError, match="public_url must be the site's address"):
        start_with('public_url = "deblend.example.org"', f'secret_key = "{secrets.token_hex(32)}"')


def _add_user(app, password_hash: str) -> None:
    sessions = app.extensions["deblend_db"]
    Base.metadata.create_all(sessions.kw["bind"])
    with sessions() as session:
        session.add(User(email="ada@example.org", name="Ada", password_hash=password_hash))
        session.commit()


def test_https_production_sends_secure_cookies_and_hsts(start_with, password, password_hash):
    app = start_with(
        'public_url = "https://deblend.example.org"', f'secret_key = "{secrets.token_hex(32)}"'
    )
    _add_user(app, password_hash)
    client = app.test_client()
    site = "https://deblend.example.org"
    page = client.get("/auth/login", base_url=site).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/auth/login",
        data={"email": "ada@example.org", "password": password, "remember": "y"},
        base_url=site,
        headers={"Referer": f"{site}/auth/login", "X-CSRFToken": token},
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert {c.split("=", 1)[0] for c in cookies} >= {"session", "remember_token"}
    for cookie in cookies:
        assert re.search(r";\s*Secure", cookie), cookie
        assert "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_local_setup_generates_a_private_random_key(tmp_path, monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    first = load_settings({"VAR_DIR": str(tmp_path)})["SECRET_KEY"]
    again = load_settings({"VAR_DIR": str(tmp_path)})["SECRET_KEY"]
    assert first == again
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
