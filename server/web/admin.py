"""Instructors' tools: the queue, worker status, re-queue/cancel actions and CSV exports.

Every action is a POST (CSRF-checked by the app-wide CSRFProtect) and every page is for
instructors only; students get 403.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from server.engine.scheduling import ordered_queue
from server.kit import kit_info
from server.lifecycle import cancel, requeue
from server.models import DispatcherHeartbeat, Event, Submission, Team, WorkerStatus, utcnow
from server.states import FINAL_STATES, IllegalTransitionError, SubmissionState
from server.web import ranking
from server.web.access import get_event_or_404, get_submission_or_404, instructor_required
from server.web.boards import BUILDERS, board_kind
from server.web.database import get_db
from server.web.exports import board_csv, submissions_csv

bp = Blueprint("admin", __name__, url_prefix="/admin")

# A dispatcher or worker not heard from for this long is shown as stale.
STALE_AFTER = timedelta(seconds=30)


@bp.get("/")
@instructor_required
def index() -> str:
    events = get_db().scalars(select(Event).order_by(Event.created_at.desc())).all()
    return render_template("admin/index.html", events=events)


@bp.get("/events/<event_name>/queue")
@instructor_required
def queue(event_name: str) -> str:
    event = get_event_or_404(event_name)
    db = get_db()
    teams = dict(db.execute(select(Team.id, Team.name).where(Team.event_id == event.id)).all())
    running = db.scalars(
        select(Submission)
        .where(Submission.event_id == event.id, Submission.state == SubmissionState.TRAINING)
        .order_by(Submission.started_at)
    ).all()
    finished = db.scalars(
        select(Submission)
        .where(Submission.event_id == event.id, Submission.state.in_(FINAL_STATES))
        .order_by(Submission.finished_at.desc(), Submission.id.desc())
    ).all()
    return render_template(
        "admin/queue.html",
        event=event,
        teams=teams,
        pending=ordered_queue(db, event.id),
        running=running,
        finished=finished,
    )


@bp.get("/workers")
@instructor_required
def workers() -> str:
    db = get_db()
    now = utcnow()
    worker_rows = db.scalars(select(WorkerStatus).order_by(WorkerStatus.address)).all()
    heartbeats = db.execute(
        select(DispatcherHeartbeat, Event.name)
        .join(Event, Event.id == DispatcherHeartbeat.event_id)
        .order_by(Event.name)
    ).all()
    return render_template(
        "admin/workers.html",
        workers=[(w, now - w.last_seen, now - w.last_seen > STALE_AFTER) for w in worker_rows],
        heartbeats=[
            (beat, name, now - beat.last_seen, now - beat.last_seen > STALE_AFTER)
            for beat, name in heartbeats
        ],
        stale_after=int(STALE_AFTER.total_seconds()),
    )


# action -> (change, verb for errors, past tense for success)
ACTIONS = {
    "requeue": (requeue, "re-queue", "Re-queued"),
    "cancel": (cancel, "cancel", "Cancelled"),
}


@bp.post("/submissions/<int:submission_id>/<action>")
@instructor_required
def act(submission_id: int, action: str) -> BaseResponse:
    submission = get_submission_or_404(submission_id, check_owner=False)
    if action not in ACTIONS:
        # The action comes from the URL: Werkzeug's error page escapes the description.
        abort(404, description=f"Unknown action {action!r}: expected requeue or cancel.")
    change, verb, done = ACTIONS[action]
    label = f"{submission.name!r} of team {submission.team.name!r}"
    try:
        change(submission)
    except IllegalTransitionError as error:
        get_db().rollback()
        flash(f"Could not {verb} {label}: {error}.", "error")
    else:
        get_db().commit()
        flash(f"{done} {label} (now {submission.state.value}).", "success")
    return redirect(url_for("admin.queue", event_name=submission.event.name))


def _csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/events/<event_name>/leaderboard.csv")
@instructor_required
def leaderboard_csv(event_name: str) -> Response:
    event = get_event_or_404(event_name)
    kind = board_kind(request.args.get("board"))
    scores = kit_info(event.kit_dir).scores
    board = BUILDERS[kind](ranking.load_entries(get_db(), event.id, scores), scores)
    return _csv_response(board_csv(board, kind, scores), f"{event.name}-{kind}-leaderboard.csv")


@bp.get("/events/<event_name>/submissions.csv")
@instructor_required
def all_submissions_csv(event_name: str) -> Response:
    event = get_event_or_404(event_name)
    scores = kit_info(event.kit_dir).scores
    return _csv_response(
        submissions_csv(get_db(), event.id, scores), f"{event.name}-submissions.csv"
    )
