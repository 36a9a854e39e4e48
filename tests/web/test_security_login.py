"""Password guessing: failed log-ins are throttled, and unknown accounts cost a real check."""

import argon2
import pytest

from server import passwords


def _login(client, password, email="ada@example.org"):
    return client.post("/auth/login", data={"email": email, "password": password})


def test_twenty_wrong_passwords_then_the_right_one_is_refused(client, make_user, password):
    make_user()
    answers = [_login(client, f"guess number {n}").status_code for n in range(20)]
    # The first failures re-show the form; the following ones are refused outright.
    assert answers[:5] == [200] * 5
    assert set(answers[5:]) == {429}
    response = _login(client, password)
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.data
    assert int(response.headers["Retry-After"]) > 0
    assert b"Log out" not in client.get("/").data


def test_other_spellings_of_the_email_count_for_the_same_account(client, make_user, password):
    make_user()
    spellings = ["ada@example.org", "ADA@example.org", " ada@example.org", "\uff41da@example.org"]
    for n in range(5):
        _login(client, f"guess number {n}", email=spellings[n % len(spellings)])
    assert _login(client, password, email="Ada@Example.org").status_code == 429


def test_throttling_one_account_leaves_others_usable(client, make_user, password):
    make_user()
    make_user(email="bruno@example.org", name="Bruno")
    for n in range(6):
        _login(client, f"guess number {n}")
    assert _login(client, password).status_code == 429
    assert _login(client, password, email="bruno@example.org").status_code == 302


def test_successful_logins_are_not_counted(client, make_user, password):
    make_user()
    for _ in range(8):
        assert _login(client, password).status_code == 302
        client.post("/auth/logout")


def test_wrong_current_password_on_change_is_throttled(client, auth, make_user):
    make_user()
    auth.login()
    new = "a brand new passphrase"
    answers = [
        client.post(
            "/auth/password", data={"current": f"guess {n}", "password": new, "confirm": new}
        ).status_code
        for n in range(7)
    ]
    assert answers[:5] == [200] * 5
    assert answers[5:] == [429, 429]


@pytest.mark.parametrize("email", ["nobody@example.org", "ada@example.org"])
def test_unknown_and_known_accounts_cost_one_password_check(client, make_user, monkeypatch, email):
    """An unknown email runs the same argon2 verification as a wrong password, so the answer
    takes as long and its timing does not tell which emails have accounts."""
    make_user()
    checked: list[str] = []

    class CountingHasher(argon2.PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            checked.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    response = _login(client, "not the password", email=email)
    assert b"Wrong email or password." in response.data
    assert len(checked) == 1


def test_dummy_hash_costs_what_a_real_hash_costs(password_hash):
    assert argon2.extract_parameters(passwords._dummy_hash()) == argon2.extract_parameters(
        password_hash
    )
