"""The app's HTTP security in one place: response headers, the proxy's headers, throttling.

Headers are set here, not in nginx, so that every way of serving the app (gunicorn alone, the
demo, the tests) sends them; deploy/SECURITY.md lists them.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, render_template, request
from flask_limiter import RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from server.web.extensions import limiter

# Scripts only from this site (no inline script anywhere); the templates' inline <style>
# blocks are allowed. No page may be framed: the instructors' one-click buttons stay unclickable
# from another site.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["SESSION_COOKIE_SECURE"]:  # served over HTTPS (PUBLIC_URL)
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def too_many_attempts(error: RateLimitExceeded) -> tuple[str, int, dict[str, str]]:
    """The page a throttled client sees, with how long to wait."""
    current = limiter.current_limit
    wait = max(1, current.reset_at - int(time.time())) if current is not None else 60
    what = "password changes" if request.endpoint == "auth.change_password" else "log-ins"
    page = render_template("auth/throttled.html", wait=wait, what=what)
    return page, 429, {"Retry-After": str(wait)}


def init_app(app: Flask) -> None:
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # Behind nginx: the client's address (throttling) and https come from its headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.after_request(add_security_headers)
    app.register_error_handler(RateLimitExceeded, too_many_attempts)
