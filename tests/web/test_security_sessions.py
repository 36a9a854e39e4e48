"""Sessions end when they should: password change, log-out (everywhere), a week at most."""

from datetime import UTC, datetime, timedelta

REMEMBER = "remember_token"
NEW_PASSWORD = "a brand new passphrase"


def _logged_in(client) -> bool:
    return b"Log out" in client.get("/").data


def _login(client, password, remember=True):
    data = {"email": "ada@example.org", "password": password}
    if remember:
        data["remember"] = "y"
    assert client.post("/auth/login", data=data).status_code == 302


def _replay(app, cookie_name: str, value: str):
    """A fresh browser holding only a cookie copied from another one."""
    thief = app.test_client()
    thief.set_cookie(cookie_name, value)
    return thief


def test_password_change_ends_other_sessions_and_remember_cookies(app, make_user, password):
    make_user()
    laptop, phone = app.test_client(), app.test_client()
    _login(laptop, password)
    _login(phone, password)
    captured_session = phone.get_cookie("session").value
    captured_remember = phone.get_cookie(REMEMBER).value
    response = laptop.post(
        "/auth/password",
        data={"current": password, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        follow_redirects=True,
    )
    assert b"Password changed." in response.data
    assert _logged_in(laptop)
    assert not _logged_in(phone)
    assert not _logged_in(_replay(app, "session", captured_session))
    assert not _logged_in(_replay(app, REMEMBER, captured_remember))


def test_remember_cookie_alone_logs_in_until_revoked(app, make_user, password):
    make_user()
    browser = app.test_client()
    _login(browser, password)
    captured = browser.get_cookie(REMEMBER).value
    assert _logged_in(_replay(app, REMEMBER, captured))
    browser.post("/auth/logout")
    assert not _logged_in(_replay(app, REMEMBER, captured))


def test_logout_ends_captured_cookies_and_other_browsers(app, make_user, password):
    make_user()
    victim = app.test_client()
    _login(victim, password)
    captured_session = victim.get_cookie("session").value
    captured_remember = victim.get_cookie(REMEMBER).value
    other_device = app.test_client()
    _login(other_device, password, remember=False)
    response = victim.post("/auth/logout", follow_redirects=True)
    assert b"Your account&#39;s other sessions have ended too." in response.data
    assert not _logged_in(victim)
    assert not _logged_in(other_device)
    assert not _logged_in(_replay(app, "session", captured_session))
    assert not _logged_in(_replay(app, REMEMBER, captured_remember))
    _login(victim, password)  # logging in again works
    assert _logged_in(victim)


def test_remember_me_lasts_days_not_a_year(app, make_user, password):
    make_user()
    browser = app.test_client()
    _login(browser, password)
    expires = browser.get_cookie(REMEMBER).expires
    assert expires is not None
    lifetime = expires - datetime.now(UTC)
    assert timedelta(days=6) < lifetime <= timedelta(days=app.config["REMEMBER_DAYS"])


def test_cookies_are_samesite_and_httponly(client, make_user, password):
    make_user()
    response = client.post(
        "/auth/login", data={"email": "ada@example.org", "password": password, "remember": "y"}
    )
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("session", REMEMBER):
        assert "SameSite=Lax" in cookies[name]
        assert "HttpOnly" in cookies[name]
