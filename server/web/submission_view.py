"""How a submission is shown: state labels, timings and score tables (pure, no Flask)."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.models import ScoreSplit, Submission, utcnow
from server.states import SubmissionState
from server.web.ranking import METRIC_LABELS, METRICS

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
    """Rows of one table: a label (fold or split) and metric -> value."""

    title: str
    metrics: list[str] = field(default_factory=list)
    rows: list[tuple[str, dict[str, float]]] = field(default_factory=list)

    @staticmethod
    def label(metric: str) -> str:
        return METRIC_LABELS.get(metric, metric)


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


def score_tables(submission: Submission, show_private: bool) -> list[ScoreTable]:
    """Per-fold scores (train / valid) and test scores; private ones only when allowed."""
    folds: dict[tuple[int, ScoreSplit], dict[str, float]] = {}
    test: dict[ScoreSplit, dict[str, float]] = {}
    for row in submission.scores:
        if row.split in (ScoreSplit.TRAIN, ScoreSplit.VALID):
            folds.setdefault((row.fold or 0, row.split), {})[row.metric] = row.value
        elif row.split == ScoreSplit.PUBLIC or show_private:
            test.setdefault(row.split, {})[row.metric] = row.value
    tables = []
    if folds:
        table = ScoreTable("Cross-validation folds")
        for (fold, split), values in sorted(folds.items(), key=lambda item: item[0]):
            table.rows.append((f"fold {fold} {split.value}", values))
        tables.append(table)
    if test:
        table = ScoreTable("Hidden test set")
        for split in (ScoreSplit.PUBLIC, ScoreSplit.PRIVATE):
            if split in test:
                table.rows.append((split.value, test[split]))
        tables.append(table)
    for table in tables:
        present = {metric for _, values in table.rows for metric in values}
        # The leaderboard's order (official score first), then any other metric.
        table.metrics = [m for m in METRICS if m in present] + sorted(present - set(METRICS))
    return tables
