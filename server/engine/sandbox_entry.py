"""The program that runs inside the sandbox: train and predict, send predictions back.

Run as a script by the venv's Python (``python /engine/sandbox_entry.py``); it imports nothing
from ``server`` and loads the kit only once it is needed, so the sandbox starts in well under a
second. Every file goes back through the result pipe (fd ``$DEBLEND_RESULT_FD``) as a frame
``b"<name> <size>\\n"`` followed by ``size`` bytes; the last one is always ``status.json``.
Predictions travel as uint8 (probability * 255): a quarter of float32, scores barely move.
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys
import time
import traceback

SUBMISSION_DIR = "/submission"
PUBLIC_DIR = "/data/public"  # the student release: data/train, data/test
HIDDEN_INPUTS_DIR = "/data/hidden"  # the hidden set's inputs/ only
QUICK_TRAIN, QUICK_TEST = 8, 4
# Train scores use at most this many blends of each fold's training part (evenly spaced):
# enough to see over-fitting without predicting (and shipping) the whole training set again.
TRAIN_SCORE_MAX = 2000


def emit(name: str, payload: bytes | memoryview) -> None:
    """Send one file back to the worker."""
    out = _result_pipe()
    out.write(f"{name} {len(payload)}\n".encode("ascii"))
    out.write(payload)
    out.flush()


def emit_array(name: str, array) -> None:  # noqa: ANN001 (numpy is imported lazily)
    import numpy as np

    header = io.BytesIO()
    array = np.ascontiguousarray(array)
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    out = _result_pipe()
    out.write(f"{name} {header.tell() + array.nbytes}\n".encode("ascii"))
    out.write(header.getvalue())
    out.write(memoryview(array).cast("B"))
    out.flush()


@functools.cache
def _result_pipe() -> io.BufferedWriter:
    return os.fdopen(int(os.environ["DEBLEND_RESULT_FD"]), "wb", closefd=False)


def quantise(pred, n_expected: int):  # noqa: ANN001, ANN201
    """Check the student's predictions, then scale them to uint8."""
    import numpy as np

    pred = np.asarray(pred)
    expected = (n_expected, 128, 128, 2)
    if pred.shape != expected:
        raise ValueError(f"predictions should have shape {expected}, got {pred.shape}")
    if not np.issubdtype(pred.dtype, np.number):
        raise ValueError(f"predictions should be probabilities (floats), got dtype {pred.dtype}")
    pred = pred.astype(np.float32, copy=False)
    if not np.isfinite(pred).all():
        raise ValueError("predictions hold NaN or infinite values: return probabilities in [0, 1]")
    low, high = float(pred.min()), float(pred.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"predictions should lie in [0, 1], got [{low:.3g}, {high:.3g}]")
    return np.rint(pred * 255.0).astype(np.uint8)


def quick_check(splits, workflow) -> dict[str, float]:  # noqa: ANN001
    import numpy as np

    X, y = splits.get_train_data(PUBLIC_DIR)  # noqa: N806 (ramp's naming)
    train_is = np.arange(min(QUICK_TRAIN, len(X)))
    test_is = np.arange(len(train_is), min(len(train_is) + QUICK_TEST, len(X)))
    started = time.perf_counter()
    model = workflow.train_submission(SUBMISSION_DIR, X, y, train_is)
    trained = time.perf_counter()
    quantise(workflow.test_submission(model, np.asarray(X[test_is])), len(test_is))
    return {"train": trained - started, "valid": time.perf_counter() - trained}


def full_run(splits, workflow) -> dict[str, float]:  # noqa: ANN001
    import numpy as np

    from ramp_kit.io import read_blends

    X, y = splits.get_train_data(PUBLIC_DIR)  # noqa: N806 (ramp's naming)
    X_hidden = read_blends(HIDDEN_INPUTS_DIR)  # noqa: N806 (memory-mapped)
    bagged = np.zeros((len(X_hidden), 128, 128, 2), dtype=np.float32)
    times = {"train": 0.0, "valid": 0.0, "test": 0.0}
    folds = list(splits.get_cv(X, y))
    for fold, (train_is, valid_is) in enumerate(folds):
        started = time.perf_counter()
        model = workflow.train_submission(SUBMISSION_DIR, X, y, train_is)
        trained = time.perf_counter()
        valid_pred = quantise(
            workflow.test_submission(model, np.asarray(X[valid_is])), len(valid_is)
        )
        validated = time.perf_counter()
        hidden_pred = quantise(workflow.test_submission(model, X_hidden), len(X_hidden))
        tested = time.perf_counter()
        step = max(1, len(train_is) // TRAIN_SCORE_MAX)
        score_is = np.asarray(train_is)[::step][:TRAIN_SCORE_MAX]
        train_pred = quantise(
            workflow.test_submission(model, np.asarray(X[score_is])), len(score_is)
        )
        bagged += hidden_pred
        times["train"] += trained - started
        times["valid"] += validated - trained
        times["test"] += tested - validated
        emit_array(f"fold{fold}_train_is.npy", score_is.astype(np.int64))
        emit_array(f"fold{fold}_train_pred.npy", train_pred)
        emit_array(f"fold{fold}_valid_is.npy", np.asarray(valid_is, dtype=np.int64))
        emit_array(f"fold{fold}_valid_pred.npy", valid_pred)
    # Test predictions are bagged over the folds, as ramp-workflow does.
    emit_array("hidden_pred.npy", np.rint(bagged / len(folds)).astype(np.uint8))
    return {key: value / len(folds) for key, value in times.items()}


def student_traceback(exc: BaseException) -> str:
    """The traceback with only the submission's own frames, then the exception line."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename.startswith(SUBMISSION_DIR + "/")
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    # An error the kit raised about the submission (bad shape...) needs no empty header.
    return "".join((lines if frames else []) + traceback.format_exception_only(type(exc), exc))


def main() -> int:
    config = json.loads(os.environ["DEBLEND_JOB"])
    try:
        # Imported here, not at the top: the kit (and keras, if the workflow needs it) loads
        # after the sandbox is up, and its import errors are reported like any other.
        # The problem's light parts only: ramp-workflow itself is not needed in here.
        from ramp_kit import splits
        from ramp_kit.workflow import DeblenderWorkflow

        run = quick_check if config["kind"] == "quick_check" else full_run
        status = {"ok": True, "timings": run(splits, DeblenderWorkflow())}
    except BaseException as exc:  # noqa: BLE001 (every fault of the submission is reported)
        summary = traceback.format_exception_only(type(exc), exc)[-1].strip()
        status = {
            "ok": False,
            "error_type": type(exc).__name__,
            "summary": summary[:300],
            "traceback": student_traceback(exc),
        }
        print(student_traceback(exc), file=sys.stderr)
    emit("status.json", json.dumps(status).encode())
    return 0 if status["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
