"""The event pages: the problem, teams, the starting kit and the public data."""

from __future__ import annotations

import functools
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import InternalServerError
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from server.kit import kit_info
from server.models import Event, EventState, Team, TeamMember
from server.web.access import current_team, get_event_or_404, is_instructor
from server.web.database import get_db
from server.web.downloads import starting_kit_zip, stream_zip
from server.web.forms import CreateTeamForm, JoinTeamForm, LogoutForm
from server.web.team_rules import TeamRefusedError, check_new_team, check_teams_open

bp = Blueprint("events", __name__)


@bp.app_errorhandler(500)
def internal_error(error: InternalServerError) -> tuple[str, int]:
    # A failed commit leaves the session unusable: roll back before rendering anything.
    get_db().rollback()
    return render_template("events/error.html", code=500, message="Something went wrong."), 500


@bp.route("/")
def index() -> str:
    query = select(Event).order_by(Event.created_at.desc())
    if not is_instructor():
        query = query.where(Event.state != EventState.DRAFT)
    return render_template("events/index.html", events=get_db().scalars(query).all())


@bp.route("/events/<event_name>")
def show(event_name: str) -> str:
    event = get_event_or_404(event_name)
    kit = kit_info(event.kit_dir)
    return render_template(
        "events/show.html",
        event=event,
        kit=kit,
        description=description_html(kit.description),
        team=current_team(event),
        create_form=CreateTeamForm(),
        join_form=JoinTeamForm(),
    )


@functools.lru_cache(maxsize=16)
def description_html(markdown: str) -> Markup:
    """The kit's Markdown description as HTML; raw HTML in it is escaped, not rendered."""
    return Markup(MarkdownIt("commonmark", {"html": False}).render(markdown))


def _join(event: Event, team: Team) -> None:
    """Add the current user to ``team``; the unique (event, user) row refuses a second team."""
    db = get_db()
    db.add(TeamMember(event_id=event.id, team_id=team.id, user_id=current_user.id))
    db.commit()


@bp.route("/events/<event_name>/team/create", methods=["POST"])
@login_required
def create_team(event_name: str) -> Response:
    event = get_event_or_404(event_name)
    form = CreateTeamForm()
    if not form.validate_on_submit():
        flash("Give your team a name (at most 100 characters).", "error")
    elif current_team(event) is not None:
        flash("You are already in a team for this event.", "error")
    else:
        db = get_db()
        try:
            name = check_new_team(db, event, form.team_name.data)
        except TeamRefusedError as error:
            flash(str(error), "error")
        else:
            team = Team(event_id=event.id, name=name)
            db.add(team)
            try:
                db.flush()
                _join(event, team)
            except IntegrityError:  # a concurrent request created the name or the membership
                db.rollback()
                flash("The team could not be created: reload the page and try again.", "error")
            else:
                flash(
                    f"Team {name!r} created. Team mates join with the code {team.join_code}.",
                    "success",
                )
    return redirect(url_for("events.show", event_name=event.name))


@bp.route("/events/<event_name>/team/join", methods=["POST"])
@login_required
def join_team(event_name: str) -> Response:
    event = get_event_or_404(event_name)
    form = JoinTeamForm()
    code = (form.join_code.data or "").strip().upper()
    team = (
        get_db()
        .scalars(select(Team).where(Team.event_id == event.id, Team.join_code == code))
        .one_or_none()
    )
    if not form.validate_on_submit() or team is None:
        flash("No team of this event has that join code: ask your team mate for it.", "error")
    elif current_team(event) is not None:
        flash("You are already in a team for this event.", "error")
    else:
        try:
            check_teams_open(event)
            _join(event, team)
        except TeamRefusedError as error:
            flash(str(error), "error")
        except IntegrityError:
            get_db().rollback()
            flash("You are already in a team for this event.", "error")
        else:
            flash(f"You joined team {team.name!r}.", "success")
    return redirect(url_for("events.show", event_name=event.name))


@bp.route("/events/<event_name>/starting-kit.zip")
def starting_kit(event_name: str) -> Response:
    event = get_event_or_404(event_name)
    cache_dir = Path(current_app.config["VAR_DIR"]) / "cache"
    kit_dir = Path(event.kit_dir)
    # Unzipped under the kit folder's own name, as ramp-test and the kit's README know it.
    archive = starting_kit_zip(
        kit_dir,
        cache_dir,
        kit_dir.name,
        Path(event.public_data_dir),
        public_submissions=event.public_submissions,
    )
    return send_file(
        archive,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{event.name}-starting-kit.zip",
    )


@bp.route("/events/<event_name>/public-data.zip")
@login_required
def public_data(event_name: str) -> Response:
    event = get_event_or_404(event_name)
    # Only <public_data_dir>/data is served; the hidden set lives elsewhere and never here.
    data_dir = Path(event.public_data_dir) / "data"
    if not data_dir.is_dir():
        abort(404)
    return Response(
        stream_with_context(stream_zip(data_dir, f"{event.name}-data")),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{event.name}-data.zip"'},
    )


def nav_url(endpoint: str, **values: object) -> str | None:
    """A URL for the layout's links, or None while that blueprint lacks the endpoint."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


@bp.app_context_processor
def layout_helpers() -> dict[str, object]:
    return {
        "nav_url": nav_url,
        "logout_form": LogoutForm(formdata=None),
        "is_instructor": is_instructor(),
    }
