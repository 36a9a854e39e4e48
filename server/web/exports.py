"""Boards as tables: display cells for the page and the JSON poll, raw values for CSV files.

The page and leaderboard.js render the same :func:`board_table`, so a first load and a live
update look alike. No Flask here: links are built by a callback the view passes in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.kit import ScoreInfo
from server.models import ScoreSplit, Submission, SubmissionScore, Team, User
from server.web.ranking import Ranked, Scores

BoardKind = Literal["public", "teams", "private"]
BOARD_KINDS: tuple[BoardKind, ...] = ("public", "teams", "private")


@dataclass
class Table:
    """Column labels and rows of display strings; ``link_column`` holds the code links.

    ``classes`` gives each column's CSS classes: ``num`` right-aligns a number, ``time`` marks
    the submission and training times, which the projector leaves out.
    """

    columns: list[str]
    classes: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    link_column: int = 2

    def as_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "classes": self.classes,
            "rows": self.rows,
            "link_column": self.link_column,
        }


def format_score(
    value: float | None, score: ScoreInfo | None = None, error: float | None = None
) -> str:
    """A score at its kit's precision, with its standard error when given: '12.31 ± 0.52'."""
    if value is None:
        return "–"
    digits = 4 if score is None else score.precision
    text = f"{value:.{digits}f}"
    return text if error is None else f"{text} ± {error:.{digits}f}"


def score_label(score: ScoreInfo) -> str:
    """A column header: the score's name and which way is better."""
    return f"{score.name} {'↓' if score.lower_is_better else '↑'}"


def format_time(value: datetime | None) -> str:
    """'07-16 21:20': month, day and time, in UTC (the column header says so)."""
    return "–" if value is None else value.strftime("%m-%d %H:%M")


def format_duration(seconds: float | None) -> str:
    """'45 s', '12 min 03 s', '1 h 02 min'."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_move(move: int | None) -> tuple[str, str]:
    """The move's text and CSS class."""
    if move is None:
        return "–", ""
    if move > 0:
        return f"▲ {move}", "up"
    if move < 0:
        return f"▼ {-move}", "down"
    return "=", "same"


def board_table(
    board: Sequence[Ranked],
    kind: BoardKind,
    scores: Scores,
    team_labels: dict[int, str] | None = None,
    code_url: Callable[[int], str] | None = None,
) -> Table:
    """Display table of a board; ``team_labels`` replaces team names (anonymised projector).

    The official score (first column of scores) shows its standard error on the hidden half.
    """
    private = kind == "private"
    split = "private" if private else "public"
    lead = ["Rank", "Public rank", "Move"] if private else ["Rank"]
    lead_classes = ["num", "num", ""] if private else ["num"]
    official = scores[0]
    metrics = [score_label(score) for score in scores]
    if private:
        metrics.append(f"public {score_label(official)}")
    columns = [*lead, "Team", "Submission", *metrics, "Submitted (UTC)", "Training"]
    classes = [*lead_classes, "", "", *["num"] * len(metrics), "time", "num time"]
    table = Table(columns, classes, link_column=len(lead) + 1)
    for line in board:
        entry = line.entry
        move_text, move_class = format_move(line.move)
        lead_cells = [str(line.rank or "–")]
        if private:
            lead_cells += [str(line.public_rank or "–"), move_text]
        team = team_labels[entry.team_id] if team_labels is not None else entry.team
        name = "–" if team_labels is not None else entry.name
        values, errors = getattr(entry, split), getattr(entry, f"{split}_error")
        cells_of_scores = [
            format_score(values[official.name], official, errors[official.name]),
            *(format_score(values[score.name], score) for score in scores[1:]),
        ]
        if private:
            cells_of_scores.append(
                format_score(
                    entry.public[official.name], official, entry.public_error[official.name]
                )
            )
        cells = [
            *lead_cells,
            team,
            name,
            *cells_of_scores,
            format_time(entry.submitted_at),
            format_duration(entry.train_seconds),
        ]
        row: dict[str, Any] = {"id": entry.submission_id, "cells": cells}
        if code_url is not None and team_labels is None:
            row["href"] = code_url(entry.submission_id)
        if move_class:
            row["move"] = move_class
        table.rows.append(row)
    return table


def table_html(table: Table) -> Markup:
    """The board's ``<table>``, escaped cell by cell.

    Joined by hand rather than by a Jinja loop: 3,000 rows render several times faster, and the
    live board rebuilds this in every server process after each new score.
    """
    opens = [f' class="{css}">' if css else ">" for css in table.classes]
    head = "".join(
        f"<th{opening}{escape(label)}</th>"
        for opening, label in zip(opens, table.columns, strict=True)
    )
    parts = [f'<table class="board">\n<thead><tr>{head}</tr></thead>\n<tbody>\n']
    link = table.link_column
    for row in table.rows:
        cells = [escape(text) for text in row["cells"]]
        if "href" in row:
            cells[link] = Markup('<a href="{}">{}</a>').format(row["href"], row["cells"][link])
        css = f' class="{row["move"]}"' if "move" in row else ""
        body = "".join(
            f"<td{opening}{cell}</td>" for opening, cell in zip(opens, cells, strict=True)
        )
        parts.append(f'<tr data-id="{row["id"]}"{css}>{body}</tr>\n')
    if not table.rows:
        parts.append(
            f'<tr class="empty"><td colspan="{len(table.columns)}">'
            "No scored submission yet.</td></tr>\n"
        )
    parts.append("</tbody>\n</table>\n")
    return Markup("".join(parts))


# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that spreadsheets show as typed: text that would start a formula gets a
    leading single quote (team names, emails and error messages come from students)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_csv_rows(handle: Any, rows: Iterable[Sequence[Any]]) -> None:
    """Every CSV file the platform writes goes through here, cell by cell."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    write_csv_rows(buffer, [header, *rows])
    return buffer.getvalue()


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def board_csv(board: Sequence[Ranked], kind: BoardKind, scores: Scores) -> str:
    """A board with full-precision scores and their standard errors; the private board adds
    public rank and move."""
    metrics = [score.name for score in scores]
    splits = ("public", "private") if kind == "private" else ("public",)
    header = ["rank", "public_rank", "move"] if kind == "private" else ["rank"]
    header += ["team", "submission", "submission_id"]
    for split in splits:
        header += [f"{split}_{m}{suffix}" for m in metrics for suffix in ("", "_se")]
    header += ["submitted_at", "train_seconds"]
    rows = []
    for line in board:
        e = line.entry
        lead = [line.rank, line.public_rank, line.move] if kind == "private" else [line.rank]
        scores_of_line = []
        for split in splits:
            values, errors = getattr(e, split), getattr(e, f"{split}_error")
            scores_of_line += [v for m in metrics for v in (values[m], errors[m])]
        rows.append(
            [*lead, e.team, e.name, e.submission_id, *scores_of_line, _iso(e.submitted_at)]
            + [e.train_seconds]
        )
    return _csv_text(header, ([("" if v is None else v) for v in row] for row in rows))


def submissions_csv(session: Session, event_id: int, scores: Scores) -> str:
    """Every submission of the event, whatever its state, with its test scores (two queries)."""
    subs = session.execute(
        select(Submission, Team.name, User.email)
        .join(Team, Team.id == Submission.team_id)
        .outerjoin(User, User.id == Submission.user_id)
        .where(Submission.event_id == event_id)
        .order_by(Submission.created_at, Submission.id)
    ).all()
    values: dict[tuple[int, str], float] = {}
    for sub_id, split, metric, value in session.execute(
        select(
            SubmissionScore.submission_id,
            SubmissionScore.split,
            SubmissionScore.metric,
            SubmissionScore.value,
        )
        .join(Submission, Submission.id == SubmissionScore.submission_id)
        .where(
            Submission.event_id == event_id,
            SubmissionScore.split.in_((ScoreSplit.PUBLIC, ScoreSplit.PRIVATE)),
        )
    ):
        values[(sub_id, f"{split.value}_{metric}")] = value
    score_keys = [f"{s}_{score.name}" for s in ("public", "private") for score in scores]
    header = ["submission_id", "team", "submission", "user", "state", "submitted_at"]
    header += ["finished_at", "train_seconds", "compute_seconds", "attempts", "error_summary"]
    rows = [
        [sub.id, team, sub.name, email or "", sub.state.value, _iso(sub.created_at)]
        + [_iso(sub.finished_at), sub.train_seconds, sub.compute_seconds, sub.attempts]
        + [sub.error_summary or ""]
        + [values.get((sub.id, key), "") for key in score_keys]
        for sub, team, email in subs
    ]
    return _csv_text(header + score_keys, ([("" if v is None else v) for v in r] for r in rows))
