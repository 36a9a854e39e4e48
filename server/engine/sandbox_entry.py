"""The program that runs inside the sandbox: ramp-workflow's train / predict loop, nothing else.

Run as a script by the venv's Python (``python /entry.py``); it imports nothing from ``server``.
It reads the kit's ``problem.py`` as ``ramp-test`` does, and for each CV fold calls the
workflow's ``train_submission`` on the training rows and ``test_submission`` on the whole
training set and on the hidden test inputs, in the order of ramp-workflow's
``train_test_submission``. The folds and the hidden inputs come from outside (``/job``): the
labels of the hidden set never enter. Scores are computed outside, from the predictions sent
back through the result pipe (fd ``$DEBLEND_RESULT_FD``) as frames ``b"<name> <size>\\n"`` +
bytes: numeric arrays as ``.npy`` (read back without pickle), anything else as ``.json``. The
last frame is always ``status.json``.

The quick check runs the kit's quick-test mode (``RAMP_TEST_MODE``, what
``ramp-test --quick-test`` sets): the first fold only, on the kit's small subset.

It may start before its job exists (``server/engine/worker.py`` keeps a started sandbox ready):
it loads ramp-workflow, the kit and the public training data, then waits for the start line on
stdin; only then are the submission (``/submission``) and the job's inputs in place.
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import os
import sys
import time
import traceback

SUBMISSION_DIR = "/submission"
PUBLIC_DIR = "/data/public"  # the kit's data folder for get_train_data
JOB_DIR = "/job"  # folds.npz and the hidden inputs, X_test.npy or X_test.pkl


def emit(name: str, payload: bytes | memoryview) -> None:
    """Send one file back to the worker."""
    out = _result_pipe()
    out.write(f"{name} {len(payload)}\n".encode("ascii"))
    out.write(payload)
    out.flush()


def emit_prediction(name: str, y_pred) -> None:  # noqa: ANN001 (numpy is imported lazily)
    """Numeric arrays go back as ``.npy``; anything else (lists, objects) as ``.json``."""
    import numpy as np

    if isinstance(y_pred, np.ndarray) and y_pred.dtype.kind in "biuf":
        buffer = io.BytesIO()
        np.save(buffer, y_pred, allow_pickle=False)
        emit(f"{name}.npy", buffer.getbuffer())
    else:
        emit(f"{name}.json", json.dumps(_plain(y_pred)).encode())


def _plain(value):  # noqa: ANN001, ANN202
    import numpy as np

    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value] if value.dtype.kind == "O" else value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@functools.cache
def _result_pipe() -> io.BufferedWriter:
    return os.fdopen(int(os.environ["DEBLEND_RESULT_FD"]), "wb", closefd=False)


def read_problem(kit_dir: str):  # noqa: ANN201
    from rampwf.utils.testing import assert_read_problem

    return assert_read_problem(kit_dir)


def hidden_inputs():  # noqa: ANN201
    import pickle

    import numpy as np

    if os.path.exists(f"{JOB_DIR}/X_test.npy"):
        return np.load(f"{JOB_DIR}/X_test.npy", mmap_mode="r", allow_pickle=False)
    with open(f"{JOB_DIR}/X_test.pkl", "rb") as source:
        return pickle.load(source)  # written by the worker from the kit's get_test_data


def wait_for_start() -> None:
    """Block until the worker sends the start line: the job's files are then in place. The
    student's code gets an empty stdin, never the worker's pipe."""
    started = sys.stdin.buffer.readline()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if not started:
        sys.exit(0)  # discarded unused: no job, nothing to report
    importlib.invalidate_caches()  # /submission was empty when the interpreter started


def quick_check(problem, X_train, y_train) -> dict[str, float]:  # noqa: ANN001, N803
    train_is, _ = next(iter(problem.get_cv(X_train, y_train)))
    started = time.perf_counter()
    trained = problem.workflow.train_submission(SUBMISSION_DIR, X_train, y_train, train_is)
    trained_at = time.perf_counter()
    problem.workflow.test_submission(trained, X_train)
    return {"train": trained_at - started, "valid": time.perf_counter() - trained_at}


def full_run(problem, X_train, y_train) -> dict[str, float]:  # noqa: ANN001, N803
    import numpy as np

    X_test = hidden_inputs()  # noqa: N806 (ramp's naming)
    folds = np.load(f"{JOB_DIR}/folds.npz", allow_pickle=False)
    n_folds = len(folds.files) // 2
    times = {"train": 0.0, "valid": 0.0, "test": 0.0}
    for fold in range(n_folds):
        train_is = folds[f"train{fold}"]
        print(f"CV fold {fold}", flush=True)
        started = time.perf_counter()
        trained = problem.workflow.train_submission(SUBMISSION_DIR, X_train, y_train, train_is)
        trained_at = time.perf_counter()
        y_pred_train = problem.workflow.test_submission(trained, X_train)
        validated_at = time.perf_counter()
        y_pred_test = problem.workflow.test_submission(trained, X_test)
        tested_at = time.perf_counter()
        emit_prediction(f"fold{fold}_train", y_pred_train)
        emit_prediction(f"fold{fold}_test", y_pred_test)
        del trained, y_pred_train, y_pred_test
        times["train"] += trained_at - started
        times["valid"] += validated_at - trained_at
        times["test"] += tested_at - validated_at
    return {key: value / n_folds for key, value in times.items()}


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
    # The slow part first, while the worker may still be waiting for the job: ramp-workflow,
    # the kit's problem.py and the public training data (none of them the student's). A
    # failure is held and reported as the job's, after the start line, as it would be cold.
    try:
        problem = read_problem(config["kit_dir"])
        X_train, y_train = problem.get_train_data(path=PUBLIC_DIR)  # noqa: N806 (ramp's naming)
        loaded: BaseException | None = None
    except BaseException as exc:  # noqa: BLE001 (reported below, with the job)
        loaded = exc
    wait_for_start()
    try:
        if loaded is not None:
            raise loaded
        run = quick_check if config["kind"] == "quick_check" else full_run
        status = {"ok": True, "timings": run(problem, X_train, y_train)}
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
