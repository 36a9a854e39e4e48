"""What creating or joining a team must satisfy: an open event, a name of its own.

No Flask here: the team views call these and flash the message of :class:`TeamRefusedError`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Event, EventState, Team
from server.names import NameRefusedError, clean_name, name_key


class TeamRefusedError(ValueError):
    """A team change that breaks a rule; the message is shown to the student."""


def check_teams_open(event: Event) -> None:
    """Teams are formed and joined while the event is open only: a closed event's results
    must not gain members or teams after the fact, and a draft is not shown to students."""
    if event.state != EventState.OPEN:
        raise TeamRefusedError(
            f"Teams can be created and joined only while the event is open; it is "
            f"{event.state.value}."
        )


def check_new_team(session: Session, event: Event, raw_name: str) -> str:
    """The name to give a new team of ``event``; raises :class:`TeamRefusedError`.

    The name is cleaned (server.names.clean_name) and compared by its key, so a look-alike of
    an existing team's name (other case, another dash, full-width letters) is refused here with
    a message, before the database's unique key would refuse it anyway.
    """
    check_teams_open(event)
    try:
        name = clean_name(raw_name, "Team name")
    except NameRefusedError as error:
        raise TeamRefusedError(str(error)) from None
    existing = session.scalars(
        select(Team.name).where(Team.event_id == event.id, Team.name_key == name_key(name))
    ).first()
    if existing is not None:
        raise TeamRefusedError(
            f"A team named {existing!r} already exists (names are compared ignoring case, "
            "dashes and character widths): choose another name."
        )
    return name
