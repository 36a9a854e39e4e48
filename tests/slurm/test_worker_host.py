"""The check a worker runs on its host when it starts: each missing piece named, with its fix,
in the worker's log and, for the workers already up, in the dispatcher's."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from server.engine.cluster import Connection, local_cluster
from server.engine.worker_plugins import WorkerHostCheck, WorkerHostError, code_digest


def test_worker_host_check_passes_on_the_dispatchers_own_host(tmp_path: Path) -> None:
    (tmp_path / "kit").mkdir()
    readable = {"the kit": str(tmp_path / "kit")}
    check = WorkerHostCheck.here(readable, str(tmp_path / "scratch"), need_sandbox=False)
    assert check.problems() == []
    assert (tmp_path / "scratch").is_dir()


def test_worker_host_check_names_missing_data_and_its_fix(tmp_path: Path) -> None:
    missing = tmp_path / "hidden"
    check = WorkerHostCheck.here({"the hidden set": str(missing)}, str(tmp_path / "scratch"))
    [problem] = check.problems()
    assert problem == f"the hidden set {missing} is missing: copy or mount it at that path"


def test_worker_host_check_names_a_scratch_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    check = WorkerHostCheck.here({}, str(blocker / "scratch"), need_sandbox=False)
    [problem] = check.problems()
    assert problem.startswith(f"the scratch folder {blocker / 'scratch'} is not writable")


def test_worker_host_check_names_another_python_and_other_code(tmp_path: Path) -> None:
    other = (sys.version_info[0], sys.version_info[1] + 1)
    check = WorkerHostCheck({}, str(tmp_path), other, "0" * 64, need_sandbox=False)
    problems = check.problems()
    assert len(problems) == 2
    assert f"build the worker's venv with Python {other[0]}.{other[1]}" in problems[0]
    assert "differs from the dispatcher's: deploy the same commit" in problems[1]
    assert code_digest() != "0" * 64


def test_worker_host_check_failure_raises_its_message(tmp_path: Path) -> None:
    check = WorkerHostCheck.here({"the kit": str(tmp_path / "nowhere")}, str(tmp_path))
    with pytest.raises(WorkerHostError, match="cannot run jobs: the kit .* is missing"):
        check.setup()


def test_connection_logs_what_a_running_worker_lacks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connection = Connection(cluster=local_cluster(1))
    try:
        connection.client.wait_for_workers(1, timeout=60)
        check = WorkerHostCheck.here({"the kit": str(tmp_path / "nowhere")}, str(tmp_path))
        with caplog.at_level(logging.ERROR, logger="server.engine.cluster"):
            connection.require(check)
        assert f"the kit {tmp_path / 'nowhere'} is missing" in caplog.text
    finally:
        connection.close()
