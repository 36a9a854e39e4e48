"""The shipped deployment files set up what deploy/SECURITY.md promises."""

import re
import tomllib
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _servers(conf: str) -> list[str]:
    """The top-level ``server { ... }`` blocks of an nginx file."""
    blocks, depth, start = [], 0, None
    for match in re.finditer(r"server\s*\{|\{|\}", conf):
        if match.group().startswith("server") and depth == 0:
            start = match.start()
        if match.group().endswith("{"):
            depth += 1
        else:
            depth -= 1
            if depth == 0 and start is not None:
                blocks.append(conf[start : match.end()])
                start = None
    return blocks


def test_nginx_serves_https_and_redirects_port_80():
    conf = (DEPLOY / "nginx" / "deblend-ramp.conf").read_text()
    plain = [b for b in _servers(conf) if re.search(r"listen 80;", b)]
    tls = [b for b in _servers(conf) if re.search(r"listen 443 ssl;", b)]
    assert len(plain) == len(tls) == 1
    assert "return 301 https://$host$request_uri;" in plain[0]
    assert "proxy_pass" not in plain[0]  # nothing is served over plain HTTP
    assert "ssl_certificate " in tls[0] and "ssl_certificate_key " in tls[0]
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in tls[0]


def test_example_settings_mark_production_behind_one_proxy():
    settings = tomllib.loads((DEPLOY / "config.example.toml").read_text())
    assert settings["public_url"].startswith("https://")
    assert settings["trusted_proxies"] == 1
    assert "session_cookie_secure" not in settings
    assert settings["signup_enabled"] is False


def test_web_service_creates_private_files():
    unit = (DEPLOY / "systemd" / "deblend-web.service").read_text()
    assert "UMask=0077" in unit
    assert "NoNewPrivileges=yes" in unit
