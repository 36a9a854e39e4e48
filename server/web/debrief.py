"""The instructors' debrief (final ranking, shake-up, plots, activity) and the code views.

Code is revealed at the close: until then a student sees only their own team's code.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Callable

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from server.kit import ScoreInfo, kit_info
from server.models import Event, EventState, Submission
from server.web import debrief_stats, ranking
from server.web.access import get_event_or_404, get_submission_or_404, instructor_required
from server.web.boards import cached_entries, event_and_token, get_cache
from server.web.database import get_db
from server.web.exports import board_table, score_label, table_html

bp = Blueprint("debrief", __name__)

# The plots' size: 1152 x 576 px, the width of the page's main column, so they show unscaled.
PLOT_INCHES = (9.6, 4.8)
PLOT_DPI = 120
PLOT_SIZE = (round(PLOT_INCHES[0] * PLOT_DPI), round(PLOT_INCHES[1] * PLOT_DPI))
# Teams whose diagnostics the debrief sets side by side.
COMPARED_TEAMS = 5


@bp.get("/events/<event_name>/debrief")
@instructor_required
def show(event_name: str) -> str:
    event = get_event_or_404(event_name)
    db = get_db()
    scores = kit_info(event.kit_dir).scores
    entries = ranking.load_entries(db, event.id, scores)
    board = ranking.private_board(entries, scores)
    activity = debrief_stats.team_activity(db, event.id)
    top = [line.entry.submission_id for line in board[:COMPARED_TEAMS]]
    return render_template(
        "debrief/show.html",
        event=event,
        official=scores[0],
        shakeup=table_html(board_table(board, "private", scores)),
        breakdowns=debrief_stats.compared_diagnostics(db, top),
        activity=activity,
        reasons=debrief_stats.failure_reasons(db, event.id),
        n_scored=len(entries),
        n_submissions=sum(team.submissions for team in activity),
        scored=sorted(entries, key=lambda e: (e.team, e.submitted_at)),
        plot_size=PLOT_SIZE,
    )


def _plot_png(
    draw: Callable[..., None], entries: list[ranking.Entry], official: ScoreInfo
) -> bytes:
    # The object API (no pyplot): no global figure state shared between request threads.
    from matplotlib.figure import Figure

    figure = Figure(figsize=PLOT_INCHES, layout="constrained")
    figure.get_layout_engine().set(w_pad=0.05, h_pad=0.05)
    axes = figure.subplots()
    draw(axes, entries, official)
    axes.set_xlabel("Submission time (UTC)")
    axes.set_ylabel(f"public {score_label(official)}")
    axes.grid(alpha=0.3)
    handles, _labels = axes.get_legend_handles_labels()
    if handles:
        columns = 1 + len(handles) // 20
        figure.legend(loc="outside right upper", fontsize=9, ncols=columns, markerscale=1.5)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PLOT_DPI)
    return buffer.getvalue()


def _draw_scores(axes, entries: list[ranking.Entry], official: ScoreInfo) -> None:  # noqa: ANN001
    """Every scored submission as a dot, one colour per team."""
    by_team: dict[str, list[ranking.Entry]] = {}
    for entry in sorted(entries, key=lambda e: e.team):
        by_team.setdefault(entry.team, []).append(entry)
    for team, rows in by_team.items():
        points = [(e.submitted_at, e.public[official.name]) for e in rows]
        points = [(t, v) for t, v in points if v is not None]
        axes.scatter([t for t, _ in points], [v for _, v in points], s=12, label=team)
    axes.set_title("Every submission's score over time")


def _draw_progress(axes, entries: list[ranking.Entry], official: ScoreInfo) -> None:  # noqa: ANN001
    """Each team's best score so far, as a step line up to the last submission."""
    end = max((e.submitted_at for e in entries), default=None)
    for team, steps in sorted(debrief_stats.progressions(entries, official).items()):
        times = [t for t, _ in steps] + [end]
        values = [v for _, v in steps] + [steps[-1][1]]
        axes.step(times, values, where="post", label=team)
    axes.set_title("Each team's best score so far")


PLOTS = {"scores": _draw_scores, "progress": _draw_progress}


@bp.get("/events/<event_name>/debrief/<plot>.png")
@instructor_required
def plot(event_name: str, plot: str) -> Response:
    if plot not in PLOTS:
        abort(404)
    event, token = event_and_token(event_name)
    cache = get_cache()

    def build() -> bytes:
        official = kit_info(event.kit_dir).official
        return _plot_png(PLOTS[plot], cached_entries(event, token), official)

    png = cache.get(event.id, token, ("plot", plot), build)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


def get_code_or_404(event: Event, submission_id: int) -> Submission:
    """Instructors see any code; students their own team's, and every team's after the close."""
    closed = event.state == EventState.CLOSED
    submission = get_submission_or_404(submission_id, check_owner=not closed)
    if submission.event_id != event.id:
        abort(404)
    return submission


# Control characters but tab and line ends, shown as their Unicode pictures (NUL as U+2400...):
# difflib.HtmlDiff marks changes with NUL and SOH inside the text, which a file could forge.
CONTROL_PICTURES = {c: 0x2400 + c for c in range(0x20) if chr(c) not in "\t\n\r"} | {0x7F: 0x2421}


def file_text(content: bytes) -> str:
    """A submitted file as text to show: undecodable bytes and control characters visible."""
    return content.decode("utf-8", errors="replace").translate(CONTROL_PICTURES)


@bp.get("/events/<event_name>/code/<int:submission_id>")
@login_required
def code(event_name: str, submission_id: int) -> str:
    event = get_event_or_404(event_name)
    submission = get_code_or_404(event, submission_id)
    files = [(f.name, file_text(f.content)) for f in submission.files]
    others = []
    if current_user.is_instructor or event.state == EventState.CLOSED:
        others = ranking.load_entries(get_db(), event.id, kit_info(event.kit_dir).scores)
    return render_template(
        "debrief/code.html", event=event, submission=submission, files=files, others=others
    )


@bp.get("/events/<event_name>/diff")
@login_required
def diff(event_name: str) -> str:
    event = get_event_or_404(event_name)
    left = get_code_or_404(event, request.args.get("a", type=int) or 0)
    right = get_code_or_404(event, request.args.get("b", type=int) or 0)
    left_files = {f.name: file_text(f.content) for f in left.files}
    right_files = {f.name: file_text(f.content) for f in right.files}
    names = sorted(left_files.keys() | right_files.keys())
    name = request.args.get("file", "")
    if name not in names:
        elements = kit_info(event.kit_dir).element_files
        name = next((n for n in elements if n in names), names[0] if names else "")
    # HtmlDiff escapes the file lines but not the descriptions, which come from students.
    table = difflib.HtmlDiff(wrapcolumn=90).make_table(
        left_files.get(name, "").splitlines(),
        right_files.get(name, "").splitlines(),
        fromdesc=str(escape(f"{left.team.name} / {left.name}")),
        todesc=str(escape(f"{right.team.name} / {right.name}")),
        context=request.args.get("context") == "1",
    )
    return render_template(
        "debrief/diff.html",
        event=event,
        left=left,
        right=right,
        names=names,
        name=name,
        table=Markup(table),
    )
