"""Live leaderboards: the public board, the competition board, the private board, a projector.

Pages render the table server-side; leaderboard.js then polls ``leaderboard.json?since=<token>``
about once a second. Each poll costs one small query (event + change token); boards are built
once per token and kept, already serialised, in a per-process cache.
"""

from __future__ import annotations

import hashlib
import json

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from server.kit import kit_info
from server.models import Event, EventState
from server.web import ranking
from server.web.access import is_instructor, may_see_private_scores
from server.web.boards import (
    BUILDERS,
    board_kind,
    cached_entries,
    event_and_token,
    get_cache,
)
from server.web.compression import Deflated, accepts_gzip, gzip_around, gzip_bytes
from server.web.database import get_db
from server.web.exports import BoardKind, Table, board_table, table_html

bp = Blueprint("leaderboard", __name__)

TITLES: dict[BoardKind, str] = {
    "public": "Leaderboard",
    "teams": "Competition leaderboard",
    "private": "Private leaderboard",
}
POLL_MS = 1000
NO_STORE = {"Cache-Control": "no-store"}
# Where the cached table goes in a rendered page (a comment: escaped text cannot produce it).
TABLE_SLOT = "<!--leaderboard-table-->"


def board_key(event: Event, kind: BoardKind, anonymise: bool) -> tuple[BoardKind, bool, bool]:
    """What a visitor's table depends on (403 for a hidden private board)."""
    if kind == "private" and not may_see_private_scores(event):
        abort(403)
    links = not anonymise and (is_instructor() or event.state == EventState.CLOSED)
    return kind, anonymise, links


def cached_table(event: Event, token: str, key: tuple[BoardKind, bool, bool]) -> Table:
    kind, anonymise, links = key
    cache, db = get_cache(), get_db()

    def build() -> Table:
        labels = None
        if anonymise:
            labels = cache.get(
                event.id, token, "labels", lambda: ranking.team_numbers(db, event.id)
            )
        code_url = None
        if links:

            def code_url(submission_id: int) -> str:
                return url_for("debrief.code", event_name=event.name, submission_id=submission_id)

        scores = kit_info(event.kit_dir).scores
        board = BUILDERS[kind](cached_entries(event, token), scores)
        return board_table(board, kind, scores, labels, code_url)

    return cache.get(event.id, token, ("table", *key), build)


def board_json(event: Event, token: str, kind: BoardKind, anonymise: bool) -> bytes:
    """The poll's answer when something changed: the whole board, serialised once per token."""
    key = board_key(event, kind, anonymise)

    def build() -> bytes:
        table = cached_table(event, token, key)
        return json.dumps({"changed": True, "token": token, **table.as_json()}).encode()

    return get_cache().get(event.id, token, ("json", *key), build)


def board_html(event: Event, token: str, kind: BoardKind, anonymise: bool) -> Deflated:
    """The board's ``<table>``, encoded and deflated once per token."""
    key = board_key(event, kind, anonymise)
    build = lambda: Deflated.of(table_html(cached_table(event, token, key)).encode())  # noqa: E731
    return get_cache().get(event.id, token, ("html", *key), build)


def render_board(name: str, kind: BoardKind, template: str, anonymise: bool = False) -> Response:
    """The page; only its small personal part is rendered per request, around the cached table.

    Browsers revalidate (``no-cache``) and get 304 while the page they hold is still current.
    """
    event, token = event_and_token(name)
    table = board_html(event, token, kind, anonymise)
    poll_url = url_for(
        "leaderboard.poll", event_name=name, board=kind, anonymise=int(anonymise) or None
    )
    page = render_template(
        template,
        event=event,
        kind=kind,
        title=TITLES[kind],
        table_html=Markup(TABLE_SLOT),
        token=token,
        poll_url=poll_url,
        poll_ms=POLL_MS,
        anonymise=anonymise,
        show_private=may_see_private_scores(event),
        official=kit_info(event.kit_dir).official,
    )
    head, tail = (part.encode() for part in page.split(TABLE_SLOT, 1))
    response = Response(mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept-Encoding")
    # The table is known by the token and what it depends on; the rest of the page by its bytes.
    known_by = repr((token, board_key(event, kind, anonymise))).encode()
    tag = hashlib.blake2b(b"\0".join((known_by, head, tail)), digest_size=16).hexdigest()
    response.set_etag(tag, weak=True)
    if request.if_none_match.contains_weak(response.get_etag()[0]):
        return response.make_conditional(request)
    if accepts_gzip():
        response.set_data(gzip_around(head, table, tail))
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(head + table.raw + tail)
    return response


@bp.get("/events/<event_name>/leaderboard")
def show(event_name: str) -> Response:
    return render_board(event_name, "public", "leaderboard/board.html")


@bp.get("/events/<event_name>/leaderboard/teams")
def teams(event_name: str) -> Response:
    return render_board(event_name, "teams", "leaderboard/board.html")


@bp.get("/events/<event_name>/leaderboard/private")
def private(event_name: str) -> Response:
    return render_board(event_name, "private", "leaderboard/board.html")


@bp.get("/events/<event_name>/projector")
def projector(event_name: str) -> Response:
    kind = board_kind(request.args.get("board"), default="teams")
    anonymise = request.args.get("anonymise") == "1"
    return render_board(event_name, kind, "leaderboard/projector.html", anonymise)


@bp.get("/events/<event_name>/leaderboard.json")
def poll(event_name: str) -> Response:
    """``{"changed": false}`` when ``since`` is the current token, else the whole board."""
    event, token = event_and_token(event_name)
    kind = board_kind(request.args.get("board"))
    if kind == "private" and not may_see_private_scores(event):
        abort(403)
    if request.args.get("since") == token:
        body = json.dumps({"changed": False, "token": token}).encode()
        return Response(body, mimetype="application/json", headers=NO_STORE)
    anonymise = request.args.get("anonymise") == "1"
    response = Response(mimetype="application/json", headers=NO_STORE)
    response.vary.add("Accept-Encoding")
    if accepts_gzip():  # compressed once per token, like the board itself
        key = ("json.gz", *board_key(event, kind, anonymise))
        build = lambda: gzip_bytes(board_json(event, token, kind, anonymise))  # noqa: E731
        response.set_data(get_cache().get(event.id, token, key, build))
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(board_json(event, token, kind, anonymise))
    return response
