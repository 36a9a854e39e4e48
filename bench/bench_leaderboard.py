"""Web load test: 60 teams x 50 scored submissions, 100 polling clients, uploads, gunicorn.

Fills a fresh database, starts gunicorn on loopback and runs, for ``--seconds``:

- ``--clients`` browser tabs in a separate process (asyncio, one keep-alive connection each):
  the page first, then the JSON poll every ``--interval`` s and the page again every
  ``--page-every`` s, asking for gzip as browsers do;
- a writer committing a new best score every ``--write-every`` s;
- one quiet probe (its own thread, one request at a time): time to last byte of an unchanged
  poll, of the first poll after each new score, and of the page;
- ``--uploads`` students from different teams posting a deblender.py through the submit form
  (logged in, CSRF token from the form, multipart), timed until the redirect that follows the
  commit of the QUEUED row.

Prints requests/s and p50/p95/p99 per kind (clients, probe, gunicorn's access log), the delay
between a score's commit and its first appearance in a client's poll, and the load average.

    .venv/bin/python bench/bench_leaderboard.py            # SQLite in a temporary directory
    .venv/bin/python bench/bench_leaderboard.py --postgres postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import http.cookiejar
import multiprocessing
import os
import random
import re
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import defaultdict
from pathlib import Path

from common import (
    EVENT,
    PASSWORD,
    add_scored,
    database,
    fill,
    free_port,
    percentiles,
    start_gunicorn,
    user_email,
    write_config,
)
from sqlalchemy import Engine

from server.db import make_engine

PAGE = f"/events/{EVENT}/leaderboard"
POLL = f"/events/{EVENT}/leaderboard.json?since="
FIRST_ROW = re.compile(rb'"token": "([^"]+)".*?"rows": \[\{"id": (\d+)', re.S)
DEBLENDER = b"class Deblender:\n    def fit(self, X, y):\n        return self\n\n" + (
    b"    def predict(self, X):\n        return X\n"
)


# --- the polling clients, in their own process -------------------------------------------


async def fetch(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, etag: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """One keep-alive GET, as a browser sends it; the body is read whole (or chunk by chunk)."""
    extra = f"If-None-Match: {etag}\r\n" if etag else ""
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip, deflate\r\n"
        f"{extra}\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readexactly(2)
        body = b"".join(chunks)
    else:
        body = await reader.read()
    return status, headers, body


def first_row(headers: dict[str, str], body: bytes) -> tuple[str, int] | None:
    """The token and the top row's id of a changed poll (only its first KiB is inflated)."""
    if headers.get("content-encoding") == "gzip":
        body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, 1024)
    found = FIRST_ROW.search(body)
    return (found[1].decode(), int(found[2])) if found else None


async def tab(port: int, stop: float, args: dict, out: dict) -> None:
    """One browser tab on the public board."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    token, etag = "", ""
    next_page = time.monotonic() + random.uniform(0, args["page_every"])
    first = True
    await asyncio.sleep(random.uniform(0, args["interval"]))
    while time.monotonic() < stop:
        started = time.monotonic()
        page = first or started >= next_page
        try:
            status, headers, body = await asyncio.wait_for(
                fetch(reader, writer, PAGE if page else POLL + token, etag if page else ""), 10
            )
            if status not in (200, 304):
                raise OSError(f"HTTP {status}")
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            out["errors"] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(args["interval"])
            continue
        done = time.monotonic()
        if started < args["measure_from"]:  # warm-up: every tab opens the page at once
            if page:  # later reloads are spread over the period, as people's are
                first, next_page = False, done + random.uniform(0, args["page_every"])
            await asyncio.sleep(max(0.0, args["interval"] - (time.monotonic() - started)))
            continue
        out["bytes"] += len(body)
        if page:
            kind = "page 304" if status == 304 else "page"
            etag, next_page, first = headers.get("etag", ""), done + args["page_every"], False
        elif len(body) < 200 and b'"changed": false' in body:
            kind = "poll"
        else:
            kind = "poll changed"
            row = first_row(headers, body)
            if row is not None:
                token = row[0]
                out["seen"].append((row[1], done))
        out["latency"][kind].append(done - started)
        await asyncio.sleep(max(0.0, args["interval"] - (time.monotonic() - started)))
    writer.close()


async def tabs(port: int, stop: float, args: dict) -> dict:
    out = {"latency": defaultdict(list), "errors": 0, "bytes": 0, "seen": []}
    await asyncio.gather(*(tab(port, stop, args, out) for _ in range(args["clients"])))
    out["latency"] = dict(out["latency"])
    return out


def run_tabs(port: int, stop: float, args: dict, results: multiprocessing.Queue) -> None:
    results.put(asyncio.run(tabs(port, stop, args)))


# --- the quiet probe and the uploads, in threads of the main process ---------------------


def get(conn: http.client.HTTPConnection, path: str) -> tuple[dict[str, str], bytes]:
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise OSError(f"HTTP {response.status} for {path}")
    return {k.lower(): v for k, v in response.getheaders()}, body


def probe(port: int, stop: float, changed: threading.Event, latency: dict) -> None:
    """One request at a time: unchanged polls, the first poll after each change, the page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    token, next_page = first_row(*get(conn, POLL))[0], time.monotonic()
    while time.monotonic() < stop:
        kind, path = "poll", POLL + token
        if changed.is_set():
            changed.clear()
            kind = "poll changed"
        elif time.monotonic() >= next_page:
            kind, path, next_page = "page", PAGE, time.monotonic() + 2.0
        started = time.monotonic()
        headers, body = get(conn, path)
        latency[kind].append(time.monotonic() - started)
        if kind != "page" and (row := first_row(headers, body)) is not None:
            token = row[0]
        changed.wait(0.25)
    conn.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:
        return None


def hidden_inputs(html: str, prefix: str = "") -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value and name[1].startswith(prefix) and 'type="hidden"' in tag:
            fields[name[1]] = value[1]
    return fields


class Student:
    """A logged-in browser session of one team's student (urllib with a cookie jar)."""

    def __init__(self, port: int, team: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        jar = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(jar, NoRedirect)
        form = hidden_inputs(self.open("/auth/login").read().decode())
        form |= {"email": user_email(team), "password": PASSWORD}
        self.post("/auth/login", urllib.parse.urlencode(form).encode(), "application/x-www-form-"
                  "urlencoded")  # fmt: skip

    def open(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.base + path, data, headers or {})
        try:
            return self.opener.open(request, timeout=10)
        except urllib.error.HTTPError as response:  # a 302 lands here, with NoRedirect
            return response

    def post(self, path: str, body: bytes, content_type: str):
        response = self.open(path, body, {"Content-Type": content_type})
        response.read()
        if response.status != 302:
            raise OSError(f"POST {path}: HTTP {response.status}, expected a redirect")
        return response

    def upload(self, name: str) -> tuple[float, float]:
        """Seconds until the redirect (row committed), then until the page saying 'queued'."""
        form = hidden_inputs(self.open(f"/events/{EVENT}/submit").read().decode(), "upload-")
        boundary = f"bench{random.getrandbits(64):016x}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
            for key, value in (*form.items(), ("upload-name", name))
        ]
        body = "".join(parts).encode() + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="upload-files"; '
            f'filename="deblender.py"\r\nContent-Type: text/x-python\r\n\r\n'
        ).encode() + DEBLENDER + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
        started = time.monotonic()
        response = self.post(
            f"/events/{EVENT}/submit", body, f"multipart/form-data; boundary={boundary}"
        )
        committed = time.monotonic() - started
        location = urllib.parse.urlsplit(response.headers["Location"]).path
        page = self.open(location).read().decode()
        if "it is queued" not in page:
            raise OSError(f"{location} does not say the submission is queued")
        return committed, time.monotonic() - started


def uploads(students: list[Student], start: float, every: float, out: list) -> None:
    for number, student in enumerate(students):
        time.sleep(max(0.0, start + number * every - time.monotonic()))
        out.append(student.upload(f"upload-{number:03d}"))


# --- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace, url: str, tmp: Path) -> None:
    began = time.monotonic()
    fill(url, args.teams, args.per_team)
    backend = url.split(":")[0].split("+")[0]
    print(f"filled {args.teams * args.per_team} scored submissions in "
          f"{time.monotonic() - began:.1f} s ({backend})")  # fmt: skip
    port, access_log = free_port(), tmp / "access.log"
    server = start_gunicorn(write_config(tmp, url), port, args.workers, args.threads, access_log)
    engine = make_engine(url)
    try:
        students = [Student(port, team) for team in range(min(args.uploads, args.teams))]
        measure(args, port, engine, students, access_log)
    finally:
        server.terminate()
        server.wait(10)
        engine.dispose()


def measure(
    args: argparse.Namespace, port: int, engine: Engine, students: list[Student], access_log: Path
) -> None:
    measure_from = time.monotonic() + args.warmup
    stop = measure_from + args.seconds
    results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    client_args = {k: getattr(args, k) for k in ("clients", "interval", "page_every")}
    client_args["measure_from"] = measure_from
    clients = multiprocessing.get_context("spawn").Process(
        target=run_tabs, args=(port, stop, client_args, results)
    )
    clients.start()
    # The clients open their pages during the warm-up; only what follows is measured.
    time.sleep(max(0.0, measure_from - time.monotonic()))
    access_log.write_text("")
    changed, probed = threading.Event(), defaultdict(list)
    uploaded: list[tuple[float, float]] = []
    workers = [
        threading.Thread(target=probe, args=(port, stop, changed, probed)),
        threading.Thread(
            target=uploads, args=(students, time.monotonic() + 2, args.upload_every, uploaded)
        ),
    ]
    for worker in workers:
        worker.start()
    committed: dict[int, float] = {}
    load = [os.getloadavg()[0]]
    index, next_write = 0, time.monotonic() + args.write_every
    while next_write < stop - 3:  # the last scores still get time to show
        time.sleep(max(0.0, next_write - time.monotonic()))
        next_write += args.write_every
        committed[add_scored(engine, index)] = time.monotonic()
        changed.set()
        index += 1
        load.append(os.getloadavg()[0])
    out = results.get(timeout=args.seconds + 60)
    clients.join(30)
    for worker in workers:
        worker.join(60)
    report(args, out, probed, uploaded, committed, access_log, load)


def report(args, out, probed, uploaded, committed, access_log, load) -> None:
    seconds = args.seconds
    total = sum(len(v) for v in out["latency"].values())
    print(
        f"{args.clients} clients: {total / seconds:.0f} requests/s over {seconds:.0f} s, "
        f"{out['errors']} errors, {out['bytes'] / seconds / 1e6:.1f} MB/s received; "
        f"load average {min(load):.1f}-{max(load):.1f} (1 min)"
    )
    for kind, values in sorted(out["latency"].items()):
        print(f"  clients  {kind:13s} {len(values) / seconds:6.1f} req/s  {percentiles(values)}")
    for kind, values in sorted(probed.items()):
        print(f"  probe    {kind:13s} {len(values):4d} req      {percentiles(values)}")
    server_side = defaultdict(list)
    for line in access_log.read_text().splitlines():
        path, method, status, millis = line.rsplit(" ", 3)
        kind = "poll" if path.endswith(".json") else "page" if path == PAGE else None
        if method == "POST" and path.endswith("/submit"):
            kind = "upload"
        if kind:
            server_side[f"{kind} {status}"].append(int(millis) / 1000)
    for kind, values in sorted(server_side.items()):
        print(f"  gunicorn {kind:13s} {len(values):4d} req      {percentiles(values)}")
    if uploaded:
        print(f"uploads: {len(uploaded)} from different teams, under the same load")
        print(f"  POST -> redirect (QUEUED row committed) {percentiles([c for c, _ in uploaded])}")
        print(f"  POST -> page saying 'queued'            {percentiles([q for _, q in uploaded])}")
    first: dict[int, float] = {}
    every = []
    for sub_id, when in out["seen"]:
        if sub_id in committed:
            delay = when - committed[sub_id]
            first[sub_id] = min(first.get(sub_id, delay), delay)
            every.append(delay)
    print(
        f"new score -> poll: {len(first)}/{len(committed)} seen; first client "
        f"{percentiles(list(first.values()))}; every client {percentiles(every)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (a throw-away schema is used)")
    parser.add_argument("--teams", type=int, default=60)
    parser.add_argument("--per-team", type=int, default=50)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0, help="poll period per client")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of load before measuring"
    )
    parser.add_argument("--page-every", type=float, default=10.0, help="page reload period")
    parser.add_argument("--write-every", type=float, default=2.0, help="new score period")
    parser.add_argument("--uploads", type=int, default=30, help="one per team, at most --teams")
    parser.add_argument("--upload-every", type=float, default=0.8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        with database(args.postgres, Path(tmp)) as url:
            run(args, url, Path(tmp))


if __name__ == "__main__":
    main()
