"""What a submission must satisfy before it is queued; pure functions, no Flask, no database.

Each check raises :class:`SubmissionRefusedError` with a message the student can act on: what was
expected, what was received, and how to fix it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from werkzeug.utils import secure_filename

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
EXTRA_EXTENSIONS = (".py", ".json", ".npz", ".h5", ".keras", ".txt")
DAY = timedelta(days=1)


class SubmissionRefusedError(ValueError):
    """A submission that breaks a rule; the message is shown to the student."""


def check_name(name: str, existing_names: Iterable[str]) -> str:
    """The submission name, stripped; unique within the team and ``[A-Za-z0-9_-]{1,40}``."""
    name = name.strip()
    if not NAME_PATTERN.fullmatch(name):
        raise SubmissionRefusedError(
            f"Submission name {name!r} is not allowed: use 1 to 40 letters, digits, '_' or '-' "
            "(for example unet_v2)."
        )
    if name in set(existing_names):
        raise SubmissionRefusedError(
            f"Your team already has a submission named {name!r}: choose another name."
        )
    return name


def check_element_source(name: str, content: bytes, max_bytes: int) -> None:
    """A workflow element's file: not empty, not too large, UTF-8, and parses if Python."""
    if not content.strip():
        raise SubmissionRefusedError(f"{name} is empty: start from the starting kit's file.")
    if len(content) > max_bytes:
        raise SubmissionRefusedError(
            f"{name} is larger than the limit of {max_bytes:,} bytes. "
            "Load large weights from an extra file instead of pasting them in the code."
        )
    try:
        source = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionRefusedError(
            f"{name} is not UTF-8 text (byte {exc.start}): save it as UTF-8."
        ) from None
    if not name.endswith(".py"):
        return
    try:
        ast.parse(source, filename=name)
    except SyntaxError as exc:
        raise SubmissionRefusedError(
            f"{name} does not parse: {exc.msg} at line {exc.lineno}. "
            f"Run `python {name}` locally to see the error."
        ) from None


def check_extra_file_name(raw_name: str) -> str:
    """A safe base name for an extra file; path parts and unknown extensions are refused."""
    if "/" in raw_name or "\\" in raw_name or raw_name.startswith(".."):
        raise SubmissionRefusedError(
            f"File name {raw_name!r} contains a path: upload plain file names such as weights.h5."
        )
    name = secure_filename(raw_name)
    if not name:
        raise SubmissionRefusedError(
            f"File name {raw_name!r} is not allowed: use letters, digits, '_', '-' and '.'."
        )
    if not name.lower().endswith(EXTRA_EXTENSIONS):
        raise SubmissionRefusedError(
            f"Extra file {name!r} has an extension that is not accepted; "
            f"allowed: {', '.join(EXTRA_EXTENSIONS)}."
        )
    return name


def check_files(
    uploads: Sequence[tuple[str, bytes]],
    element_files: Sequence[str],
    max_file_bytes: int,
    max_files: int,
) -> dict[str, bytes]:
    """Every rule on the files; returns sanitised name -> content.

    ``uploads`` are (file name, content) pairs; those named like the kit's workflow elements
    (``element_files``) are the submission's code, the others are extra files.
    """
    given = {name for name, _ in uploads}
    missing = [name for name in element_files if name not in given]
    if missing:
        raise SubmissionRefusedError(
            f"This event's submissions are made of {', '.join(element_files)}; missing: "
            f"{', '.join(missing)}. Name your files exactly so."
        )
    extras = [(name, content) for name, content in uploads if name not in element_files]
    if len(extras) > max_files:
        raise SubmissionRefusedError(
            f"{len(extras)} extra files uploaded; at most {max_files} are accepted."
        )
    files: dict[str, bytes] = {}
    for name, content in uploads:
        if name in element_files:
            if name in files:
                raise SubmissionRefusedError(f"File {name!r} was uploaded twice: keep one copy.")
            check_element_source(name, content, max_file_bytes)
            files[name] = content
    for raw_name, content in extras:
        name = check_extra_file_name(raw_name)
        if name in files:
            raise SubmissionRefusedError(f"File {name!r} was uploaded twice: keep one copy.")
        if len(content) > max_file_bytes:
            raise SubmissionRefusedError(
                f"Extra file {name!r} is larger than the limit of {max_file_bytes:,} bytes "
                "per file."
            )
        files[name] = content
    return files


def check_rate(
    now: datetime, counted_times: Sequence[datetime], min_gap_seconds: int, max_per_day: int
) -> None:
    """The team's counted submissions (platform faults excluded) leave room for one more."""
    if not counted_times:
        return
    last = max(counted_times)
    next_allowed = last + timedelta(seconds=min_gap_seconds)
    if now < next_allowed:
        wait = int((next_allowed - now).total_seconds()) + 1
        raise SubmissionRefusedError(
            f"Your team submitted {int((now - last).total_seconds())} s ago; submissions must be "
            f"at least {min_gap_seconds} s apart. Try again in {wait} s."
        )
    recent = sorted(t for t in counted_times if now - t < DAY)
    if len(recent) >= max_per_day:
        # The oldest submission of the window leaves it first.
        free_at = recent[len(recent) - max_per_day] + DAY
        raise SubmissionRefusedError(
            f"Your team has made {len(recent)} submissions in the last 24 hours; the limit is "
            f"{max_per_day}. The next one is possible at {free_at:%Y-%m-%d %H:%M} UTC."
        )


def check_event_open(event_is_open: bool, is_instructor: bool) -> None:
    """Students submit only while the event is open; instructors at any time."""
    if not event_is_open and not is_instructor:
        raise SubmissionRefusedError("This event is not open for submissions.")
