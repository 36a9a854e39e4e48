"""The boards' shared pieces, used by several blueprints: the per-process cache of built
boards, the event and its change token, which board a request asks for, the board builders.

Not a blueprint: the leaderboard, admin and debrief views all build on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import abort, current_app

from server.kit import kit_info
from server.models import Event, EventState
from server.web import ranking
from server.web.access import is_instructor
from server.web.database import get_db
from server.web.exports import BOARD_KINDS, BoardKind

BUILDERS: dict[
    BoardKind, Callable[[list[ranking.Entry], ranking.Scores], list[ranking.Ranked]]
] = {
    "public": ranking.public_board,
    "teams": ranking.competition_board,
    "private": ranking.private_board,
}


class _Slot:
    def __init__(self, token: str) -> None:
        self.token = token
        self.values: dict[Any, Any] = {}
        self.building: dict[Any, threading.Lock] = {}


class BoardCache:
    """What was built for each event's latest change token; older tokens are dropped.

    Builds are single-flight: after a new score, the threads that poll at once wait for one
    build instead of each rebuilding the same 3,000-row board.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[int, _Slot] = {}
        # The entries of each event's previous token, from which the next ones are refreshed.
        self._previous_entries: dict[int, Any] = {}

    def previous_entries(self, event_id: int) -> Any:
        return self._previous_entries.get(event_id)

    def get(self, event_id: int, token: str, key: Any, build: Callable[[], Any]) -> Any:
        with self._lock:
            slot = self._slots.get(event_id)
            if slot is None or slot.token != token:
                if slot is not None and "entries" in slot.values:
                    self._previous_entries[event_id] = slot.values["entries"]
                slot = self._slots[event_id] = _Slot(token)
            if key in slot.values:
                return slot.values[key]
            building = slot.building.setdefault(key, threading.Lock())
        with building:
            if key not in slot.values:  # not built meanwhile by the thread we waited for
                slot.values[key] = build()
            return slot.values[key]


def get_cache() -> BoardCache:
    return current_app.extensions.setdefault("leaderboard_cache", BoardCache())


def event_and_token(name: str) -> tuple[Event, str]:
    """The event (404 if missing, or a draft for a non-instructor) and its change token."""
    found = ranking.event_with_token(get_db(), name)
    if found is None or (found[0].state == EventState.DRAFT and not is_instructor()):
        abort(404)
    return found


def board_kind(value: str | None, default: BoardKind = "public") -> BoardKind:
    if value is None:
        return default
    if value not in BOARD_KINDS:
        abort(400, f"unknown board {value!r}; expected one of {', '.join(BOARD_KINDS)}")
    return value  # type: ignore[return-value]


def cached_entries(event: Event, token: str) -> list[ranking.Entry]:
    """The event's scored submissions, refreshed once per change token."""
    cache = get_cache()
    scores = kit_info(event.kit_dir).scores
    return cache.get(
        event.id,
        token,
        "entries",
        lambda: ranking.refresh_entries(
            get_db(), event.id, scores, token, cache.previous_entries(event.id)
        ),
    )
