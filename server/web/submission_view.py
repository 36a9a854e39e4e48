"""How a submission is shown: state labels, timings and score tables (pure, no Flask)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from server.kit import ScoreInfo
from server.models import ScoreSplit, Submission, utcnow
from server.states import SubmissionState
from server.web.exports import format_score, score_label

STATE_LABELS: dict[SubmissionState, str] = {
    SubmissionState.QUEUED: "queued",
    SubmissionState.CHECKING: "checking",
    SubmissionState.WAITING: "waiting for a worker",
    SubmissionState.TRAINING: "training",
    SubmissionState.SCORED: "scored",
    SubmissionState.FAILED: "failed",
    SubmissionState.TIMED_OUT: "timed out",
    SubmissionState.OUT_OF_MEMORY: "out of memory",
    SubmissionState.CANCELLED: "cancelled",
}


@dataclass
class ScoreTable:
    """Rows of one table: a label (fold or split) and score name -> formatted value."""

    title: str
    scores: list[ScoreInfo] = field(default_factory=list)
    rows: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def timings(submission: Submission) -> dict[str, float | None]:
    """Seconds spent training, validating, testing, and in all (wall, still running or not)."""
    wall = None
    if submission.started_at is not None:
        end = submission.finished_at or utcnow()
        wall = (end - submission.started_at).total_seconds()
    return {
        "train": submission.train_seconds,
        "valid": submission.valid_seconds,
        "test": submission.test_seconds,
        "wall": wall,
    }


def score_tables(
    submission: Submission, show_private: bool, scores: Sequence[ScoreInfo]
) -> list[ScoreTable]:
    """Per-fold scores (train / valid) and hidden-set scores with their standard errors;
    private ones only when allowed. Scores the kit no longer declares are left out."""
    known = {score.name: score for score in scores}
    folds: dict[tuple[int, ScoreSplit], dict[str, str]] = {}
    test: dict[ScoreSplit, dict[str, str]] = {}
    for row in submission.scores:
        score = known.get(row.metric)
        if score is None:
            continue
        if row.split in (ScoreSplit.TRAIN, ScoreSplit.VALID):
            folds.setdefault((row.fold or 0, row.split), {})[row.metric] = format_score(
                row.value, score
            )
        elif row.split == ScoreSplit.PUBLIC or show_private:
            test.setdefault(row.split, {})[row.metric] = format_score(
                row.value, score, row.std_error
            )
    tables = []
    if folds:
        table = ScoreTable("Cross-validation folds", list(scores))
        for (fold, split), values in sorted(folds.items(), key=lambda item: item[0]):
            table.rows.append((f"fold {fold} {split.value}", values))
        tables.append(table)
    if test:
        table = ScoreTable("Hidden test set (± standard error)", list(scores))
        for split in (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE):
            if split in test:
                table.rows.append((split.value, test[split]))
        tables.append(table)
    return tables


def score_header(score: ScoreInfo) -> str:
    return score_label(score)
