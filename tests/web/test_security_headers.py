"""Every answer carries the security headers; no page can be framed by another site."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "server" / "templates"


@pytest.mark.parametrize("path", ["/", "/auth/login", "/admin/", "/no/such/page"])
def test_security_headers_on_every_answer(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # plain HTTP: only with an https URL


def test_admin_pages_cannot_be_framed(client, make_user, make_event, auth):
    """The admin pages hold the one-click cancel and re-queue buttons."""
    make_user(instructor=True)
    make_event()
    auth.login()
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_templates_have_no_inline_script_the_policy_would_block():
    """script-src 'self' blocks inline scripts and on* handlers: none may be relied on."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template
