"""What the platform knows about a problem: only what its ramp-workflow kit declares.

An event names a kit folder (``problem.py`` and ``submissions/``). Everything the server shows
or checks about the problem comes from here: the title, the description, the workflow's
element names (the files a submission is made of), the score types (name, precision,
direction; the first is official) and the optional hooks. Nothing else under ``server/``
knows a kit by name.

Optional kit hooks, looked up on ``problem.py`` (absent means "not offered"):

- ``preview_png(X, y_true, y_pred) -> bytes``: a picture of a few public items;
- ``diagnostics(y_true, y_pred) -> list[dict]``: the official score broken down by a property
  of the items, each dict ``{"title", "score", "bins", "values", "counts"}``.

The description shown on the event page is the kit's ``DESCRIPTION.md``, else its
``README.md``, else the problem title.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

DESCRIPTION_FILES = ("DESCRIPTION.md", "README.md")
# Element names without an extension are Python files, as ramp-workflow's workflows read them.
DEFAULT_ELEMENT_EXTENSION = ".py"


class KitError(ValueError):
    """The kit folder is not a usable ramp-workflow kit."""


@dataclass(frozen=True)
class ScoreInfo:
    """One score type of the kit, as the leaderboard needs it."""

    name: str
    precision: int
    lower_is_better: bool
    minimum: float
    maximum: float


@dataclass(frozen=True)
class KitInfo:
    """The facts about a kit the web pages and the intake need, read once per kit version."""

    path: str
    title: str
    description: str  # Markdown
    element_files: tuple[str, ...]  # the files a submission must hold, e.g. ("classifier.py",)
    scores: tuple[ScoreInfo, ...]  # the first is official
    has_preview: bool
    has_diagnostics: bool

    @property
    def official(self) -> ScoreInfo:
        return self.scores[0]

    def score(self, name: str) -> ScoreInfo | None:
        return next((s for s in self.scores if s.name == name), None)


def element_file(element_name: str) -> str:
    """The file name of a workflow element (``classifier`` -> ``classifier.py``)."""
    return element_name if "." in element_name else element_name + DEFAULT_ELEMENT_EXTENSION


def load_problem(kit_dir: str | Path) -> ModuleType:
    """The kit's ``problem.py``, read by ramp-workflow exactly as ``ramp-test`` reads it."""
    kit_dir = Path(kit_dir)
    if not (kit_dir / "problem.py").is_file():
        raise KitError(f"{kit_dir} holds no problem.py: give the folder of a ramp-workflow kit")
    from rampwf.utils.testing import assert_read_problem  # heavy: pandas, scikit-learn

    return assert_read_problem(str(kit_dir))


def kit_info(kit_dir: str | Path) -> KitInfo:
    """The kit's facts, cached until ``problem.py`` or its description changes."""
    kit_dir = Path(kit_dir).resolve()
    stamps = tuple(_mtime(kit_dir / name) for name in ("problem.py", *DESCRIPTION_FILES))
    return _kit_info(str(kit_dir), stamps)


@functools.lru_cache(maxsize=32)
def _kit_info(kit_dir: str, _stamps: tuple[float, ...]) -> KitInfo:
    problem = load_problem(kit_dir)
    for name in ("workflow", "score_types", "Predictions", "get_train_data", "get_test_data"):
        if not hasattr(problem, name):
            raise KitError(f"{kit_dir}/problem.py defines no {name}: is it a ramp-workflow kit?")
    if not problem.score_types:
        raise KitError(f"{kit_dir}/problem.py has an empty score_types: the first is official")
    title = str(getattr(problem, "problem_title", Path(kit_dir).name))
    return KitInfo(
        path=kit_dir,
        title=title,
        description=_description(Path(kit_dir), title),
        element_files=tuple(element_file(e) for e in problem.workflow.element_names),
        scores=tuple(_score_info(score_type) for score_type in problem.score_types),
        has_preview=callable(getattr(problem, "preview_png", None)),
        has_diagnostics=callable(getattr(problem, "diagnostics", None)),
    )


def _score_info(score_type: object) -> ScoreInfo:
    def number(attribute: str, default: float) -> float:
        value = getattr(score_type, attribute, default)
        return float(value) if value is not None else default

    return ScoreInfo(
        name=str(score_type.name),
        precision=int(getattr(score_type, "precision", 3)),
        lower_is_better=bool(score_type.is_lower_the_better),
        minimum=number("minimum", -math.inf),
        maximum=number("maximum", math.inf),
    )


def _description(kit_dir: Path, title: str) -> str:
    for name in DESCRIPTION_FILES:
        if (kit_dir / name).is_file():
            return (kit_dir / name).read_text(encoding="utf-8")
    return f"# {title}\n"


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
