from sqlalchemy import select

from server.models import User

PASSWORD = "correct horse battery"  # the password of every user made by make_user


def test_signup_creates_account_and_logs_in(client, db):
    response = client.post(
        "/auth/signup",
        data={
            "name": "Vera",
            "email": "Vera@Example.org",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"Welcome, Vera!" in response.data
    assert b"Log out" in response.data
    user = db.scalars(select(User).where(User.email == "vera@example.org")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_signup_existing_email_refused(client, make_user):
    make_user(email="ada@example.org")
    response = client.post(
        "/auth/signup",
        data={
            "name": "Ada",
            "email": "ADA@example.org",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    # The same words as for an address that may not sign up: existence is not revealed.
    assert b"No account could be created for this email address." in response.data
    assert b"Log out" not in response.data


def test_signup_short_password_refused(client, db):
    response = client.post(
        "/auth/signup",
        data={
            "name": "Vera",
            "email": "vera@example.org",
            "password": "short",
            "confirm": "short",
        },
    )
    assert b"at least 10 characters" in response.data
    assert db.scalars(select(User)).all() == []


def test_login_then_logout(client, auth, make_user):
    make_user()
    response = auth.login()
    assert response.status_code == 302
    assert b"Ada" in client.get("/").data
    response = client.post("/auth/logout", follow_redirects=True)
    assert b"Logged out." in response.data
    assert b"Log in" in response.data


def test_login_wrong_password_refused(client, auth, make_user):
    make_user()
    response = auth.login(password="not the password")
    assert response.status_code == 200
    assert b"Wrong email or password." in response.data
    assert b"Log out" not in client.get("/").data


def test_login_unknown_email_refused(auth):
    assert b"Wrong email or password." in auth.login(email="nobody@example.org").data


def test_login_follows_next_on_this_site_only(client, make_user):
    make_user()
    data = {"email": "ada@example.org", "password": PASSWORD}
    response = client.post("/auth/login?next=/events/school", data=data)
    assert response.headers["Location"] == "/events/school"
    client.post("/auth/logout")
    response = client.post("/auth/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/"


def test_login_required_redirects_to_login(client):
    response = client.get("/auth/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_imported_account_must_change_password(client, auth, make_user, db):
    user = make_user()
    user.must_change_password = True
    db.commit()
    response = auth.login()
    assert response.headers["Location"] == "/auth/password"
    new = "a brand new passphrase"
    response = client.post(
        "/auth/password",
        data={"current": PASSWORD, "password": new, "confirm": new},
        follow_redirects=True,
    )
    assert b"Password changed." in response.data
    db.expire_all()
    assert db.get(User, user.id).must_change_password is False
    client.post("/auth/logout")
    assert auth.login(password=new).status_code == 302


def test_change_password_wrong_current_refused(client, auth, make_user):
    make_user()
    auth.login()
    new = "a brand new passphrase"
    response = client.post(
        "/auth/password", data={"current": "wrong", "password": new, "confirm": new}
    )
    assert b"The current password is wrong." in response.data


def test_csrf_token_required_on_forms(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    make_user()
    client = app.test_client()
    response = client.post("/auth/login", data={"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert b"CSRF" in response.data
    page = client.get("/auth/login").data.decode()
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/auth/login",
        data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
