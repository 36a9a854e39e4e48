"""Submitting (upload or in-browser edit) and following one's submissions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from server.engine.scheduling import queue_positions
from server.kit import kit_info
from server.models import Event, Submission, Team
from server.web.access import (
    current_team,
    get_event_or_404,
    get_submission_or_404,
    is_instructor,
    may_see_private_scores,
)
from server.web.database import get_db
from server.web.forms import UploadForm
from server.web.forms import edit_form as make_edit_form
from server.web.intake import receive_submission
from server.web.submission_rules import SubmissionRefusedError
from server.web.submission_view import STATE_LABELS, score_header, score_tables, timings

bp = Blueprint("submissions", __name__)


@bp.app_errorhandler(413)
def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    message = (
        f"The upload is larger than the {limit // 1024:,} KiB allowed per submission. "
        "Keep weights small or let fit() train them."
    )
    return render_template("events/error.html", code=413, message=message), 413


def _team_or_redirect(event: Event) -> Team | Response:
    team = current_team(event)
    if team is None:
        flash("Create or join a team before submitting.", "error")
        return redirect(url_for("events.show", event_name=event.name))
    return team


def _last_sources(event: Event, team: Team, element_files: Sequence[str]) -> list[str]:
    """The team's latest version of each element file, else the kit's starting kit's."""
    last = (
        get_db()
        .scalars(
            select(Submission)
            .where(Submission.team_id == team.id)
            .order_by(Submission.created_at.desc(), Submission.id.desc())
        )
        .first()
    )
    latest = {f.name: f.content for f in last.files} if last else {}
    starting_kit = Path(event.kit_dir) / "submissions" / "starting_kit"
    sources = []
    for name in element_files:
        if name in latest:
            sources.append(latest[name].decode("utf-8", errors="replace"))
        elif (starting_kit / name).is_file():
            sources.append((starting_kit / name).read_text(encoding="utf-8", errors="replace"))
        else:
            sources.append("")
    return sources


def _read(storage: FileStorage, limit: int) -> bytes:
    # One byte over the limit is enough for the rules to refuse it.
    return storage.stream.read(limit + 1)


def _receive(
    event: Event, team: Team, name: str, uploads: list[tuple[str, bytes]]
) -> Response | None:
    """Redirect to the received submission, or flash why it was refused and return None."""
    try:
        submission = receive_submission(
            get_db(),
            event,
            team,
            current_user,
            name,
            uploads,
            element_files=kit_info(event.kit_dir).element_files,
            max_file_bytes=current_app.config["SUBMISSION_MAX_FILE_BYTES"],
            max_files=current_app.config["SUBMISSION_MAX_FILES"],
            instructor=is_instructor(),
        )
    except SubmissionRefusedError as refusal:
        flash(str(refusal), "error")
        return None
    flash(f"Submission {submission.name!r} received; it is queued.", "success")
    return redirect(url_for("submissions.detail", submission_id=submission.id))


@bp.route("/events/<event_name>/submit", methods=["GET", "POST"])
@login_required
def submit(event_name: str) -> str | Response:
    event = get_event_or_404(event_name)
    team = _team_or_redirect(event)
    if isinstance(team, Response):
        return team
    element_files = kit_info(event.kit_dir).element_files
    upload_form = UploadForm(prefix="upload")
    edit_form = make_edit_form(len(element_files), prefix="edit")
    response = None
    limit = current_app.config["SUBMISSION_MAX_FILE_BYTES"]
    # Both forms post here; the prefix of the fields tells which one was sent.
    if "upload-name" in request.form and upload_form.validate_on_submit():
        uploads = [
            (storage.filename or "", _read(storage, limit))
            for storage in upload_form.files.data or []
            if storage and storage.filename
        ]
        response = _receive(event, team, upload_form.name.data, uploads)
    elif "edit-name" in request.form and edit_form.validate_on_submit():
        uploads = [
            (file_name, source.replace("\r\n", "\n").encode("utf-8"))
            for file_name, source in zip(element_files, edit_form.sources.data, strict=False)
        ]
        response = _receive(event, team, edit_form.name.data, uploads)
    if response is not None:
        return response
    if not any(edit_form.sources.data):
        for entry, source in zip(
            edit_form.sources.entries, _last_sources(event, team, element_files), strict=True
        ):
            entry.data = source
    return render_template(
        "submissions/submit.html",
        event=event,
        team=team,
        upload_form=upload_form,
        edit_form=edit_form,
        element_files=element_files,
        max_file_kib=limit // 1024,
    )


@bp.route("/events/<event_name>/submissions")
@login_required
def index(event_name: str) -> str:
    event = get_event_or_404(event_name)
    team = current_team(event)
    query = select(Submission).where(Submission.event_id == event.id)
    if not is_instructor():
        query = query.where(Submission.team_id == (team.id if team else -1))
    submissions = get_db().scalars(query.order_by(Submission.created_at.desc())).all()
    positions = queue_positions(get_db(), event.id)
    return render_template(
        "submissions/index.html",
        event=event,
        team=team,
        submissions=submissions,
        positions=positions,
        labels=STATE_LABELS,
    )


@bp.route("/submissions/<int:submission_id>")
@login_required
def detail(submission_id: int) -> str:
    submission = get_submission_or_404(submission_id, check_owner=True)
    event = submission.event
    return render_template(
        "submissions/detail.html",
        event=event,
        submission=submission,
        position=_position(submission),
        labels=STATE_LABELS,
        timings=timings(submission),
        tables=score_tables(
            submission, may_see_private_scores(event), kit_info(event.kit_dir).scores
        ),
        score_header=score_header,
    )


def _position(submission: Submission) -> int | None:
    if not submission.state.is_pending:
        return None
    return queue_positions(get_db(), submission.event_id).get(submission.id)


@bp.route("/submissions/<int:submission_id>/status.json")
@login_required
def status(submission_id: int) -> Response:
    submission = get_submission_or_404(submission_id, check_owner=True)
    return jsonify(
        state=submission.state.value,
        label=STATE_LABELS[submission.state],
        is_final=submission.state.is_final,
        queue_position=_position(submission),
        log_tail=submission.log_tail or "",
        error_summary=submission.error_summary,
    )


@bp.route("/submissions/<int:submission_id>/preview.png")
@login_required
def preview(submission_id: int) -> Response:
    submission = get_submission_or_404(submission_id, check_owner=True)
    if submission.preview_png is None:
        abort(404)
    return Response(submission.preview_png, mimetype="image/png")
