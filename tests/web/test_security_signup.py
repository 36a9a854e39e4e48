"""Sign-up: limited to the configured emails or domains, and silent about existing accounts."""

import re

from sqlalchemy import select

from server.models import User


def _signup(client, email: str, password: str):
    return client.post(
        "/auth/signup",
        data={"name": "Vera", "email": email, "password": password, "confirm": password},
    )


def _flash(response) -> str:
    page = response.get_data(as_text=True)
    return re.search(r'class="flash flash-error"[^>]*>([^<]*)<', page)[1]


def test_domain_allow_list(app_factory, db, password):
    client = app_factory(SIGNUP_ALLOWED_DOMAINS=["school.example.org"]).test_client()
    refused = _signup(client, "vera@gmail.example", password)
    assert "No account could be created for this email address." in _flash(refused)
    assert db.scalars(select(User)).all() == []
    accepted = _signup(client, "Vera@School.Example.org", password)
    assert accepted.status_code == 302
    assert db.scalars(select(User.email)).all() == ["vera@school.example.org"]


def test_email_allow_list(app_factory, db, password):
    client = app_factory(SIGNUP_ALLOWED_EMAILS=["vera@example.org"]).test_client()
    assert _signup(client, "mallory@example.org", password).status_code == 200
    assert _signup(client, "vera@example.org", password).status_code == 302
    assert db.scalars(select(User.email)).all() == ["vera@example.org"]


def test_signup_closed(app_factory, db, password):
    client = app_factory(SIGNUP_ENABLED=False).test_client()
    assert b"Accounts are created by your instructors" in client.get("/auth/signup").data
    _signup(client, "vera@example.org", password)
    assert db.scalars(select(User)).all() == []


def test_existing_email_and_refused_email_get_the_same_answer(app_factory, make_user, password):
    client = app_factory(SIGNUP_ALLOWED_DOMAINS=["example.org"]).test_client()
    make_user(email="ada@example.org")
    existing = _signup(client, "ADA@example.org", password)
    not_allowed = _signup(client, "ada@elsewhere.example", password)
    assert existing.status_code == not_allowed.status_code == 200
    assert _flash(existing) == _flash(not_allowed)
    # The pages differ only by the address typed back into the form.
    page = existing.get_data(as_text=True).replace("ADA@example.org", "EMAIL")
    assert page == not_allowed.get_data(as_text=True).replace("ada@elsewhere.example", "EMAIL")
