"""Fixtures of the production-stack test: a cookie-keeping HTTP client that speaks forms.

The stack helpers (data, settings file, PostgreSQL schema, dispatcher) are shared with the
browser tests, in tests/browser/livestack.py.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))


class _Inputs(HTMLParser):
    """Name -> value of every ``<input>`` on a page (CSRF tokens are hidden inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        fields = dict(attrs)
        if tag == "input" and fields.get("name"):
            self.values[fields["name"]] = fields.get("value") or ""


@dataclass
class Page:
    status: int
    url: str
    text: str

    def input_value(self, name: str) -> str:
        parser = _Inputs()
        parser.feed(self.text)
        assert name in parser.values, f"no input {name!r} on {self.url}"
        return parser.values[name]


class HttpSession:
    """One person: a cookie jar, redirects followed, forms posted with their CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            with self.opener.open(request, timeout=60) as response:
                return Page(response.status, response.url, response.read().decode())
        except urllib.error.HTTPError as error:
            return Page(error.code, error.url, error.read().decode(errors="replace"))

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.base_url + path))

    def post(self, path: str, fields: dict[str, str]) -> Page:
        body = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body))

    def post_files(
        self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
    ) -> Page:
        """A multipart/form-data POST, as a browser sends a form with a file input."""
        boundary = uuid.uuid4().hex
        parts: list[bytes] = []
        for name, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        for name, (filename, content) in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: text/x-python\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        request = urllib.request.Request(
            self.base_url + path,
            data=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        return self._open(request)


@pytest.fixture
def http_session() -> Callable[[str], HttpSession]:
    return HttpSession
