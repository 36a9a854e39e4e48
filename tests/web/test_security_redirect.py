"""``?next=`` after log-in: paths of this site only, judged as a browser reads them."""

import pytest


@pytest.mark.parametrize(
    "target",
    [
        "////evil.example",  # the reported one: Location became //evil.example
        "//evil.example/x",
        "///evil.example",
        "/\\evil.example",  # browsers read a backslash as a slash
        "\\\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        " //evil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines inside URLs
        "/events\r\nSet-Cookie: stolen=1",  # was a 500
        "/events\nx",
    ],
)
def test_login_next_elsewhere_lands_on_events_page(client, make_user, password, target):
    make_user()
    login = {"email": "ada@example.org", "password": password}
    response = client.post("/auth/login", query_string={"next": target}, data=login)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "stolen" not in response.headers.get("Set-Cookie", "")


def test_login_next_on_this_site_kept_with_query_and_fragment(client, make_user, password):
    make_user()
    target = "/events/school/leaderboard?board=teams#top"
    login = {"email": "ada@example.org", "password": password}
    response = client.post("/auth/login", query_string={"next": target}, data=login)
    assert response.headers["Location"] == target
