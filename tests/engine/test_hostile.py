"""Hostile submissions: each ends in a clean JobResult and leaves this machine as it was."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import sandbox_processes

from ramp_kit.constants import MASK_THRESHOLD
from ramp_kit.io import hidden_halves, read_truth
from server.engine.job import JobKind, JobOutcome, JobSpec
from server.engine.worker import run_job

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

# The attack runs in fit(); predict() then answers "everything is the central galaxy".
TEMPLATE = """
import os, sys, time
import numpy as np

class Deblender:
    def fit(self, blends, truth):
{attack}
        return self

    def predict(self, blends):
        proba = np.zeros((len(blends), 128, 128, 2), dtype=np.float32)
        proba[..., 0] = 1.0
        return proba
"""


def hostile(attack: str) -> str:
    body = "\n".join("        " + line for line in attack.strip().splitlines())
    return TEMPLATE.format(attack=body)


@pytest.fixture(autouse=True)
def machine_left_clean() -> Iterator[None]:
    yield
    assert sandbox_processes() == []


def test_hostile_reading_private_labels_sees_nothing(
    make_spec: Callable[..., JobSpec], tmp_path: Path, hidden_dir: Path
) -> None:
    labels = hidden_dir / "labels" / "truth.fits"
    # Search every folder but the system's and Python's own (thousands of files, no data).
    attack = f"""
found = []
for folder, subfolders, files in os.walk("/"):
    subfolders[:] = [s for s in subfolders if folder != "/" or s not in ("proc", "usr", "dev")]
    subfolders[:] = [s for s in subfolders if not s.startswith("python3")]
    found += [os.path.join(folder, f) for f in files if f == "truth.fits"]
print("FOUND", sorted(found), os.path.exists({str(labels)!r}), flush=True)
"""
    result = run_job(make_spec(hostile(attack), n_folds=1), tmp_path)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    # Only the public training labels are visible, never the hidden ones.
    public = ["/data/public/data/test/truth.fits", "/data/public/data/train/truth.fits"]
    assert f"FOUND {public} False" in result.log_tail
    truth = read_truth(hidden_dir / "labels")
    public_truth = np.asarray(truth[hidden_halves(len(truth))[0], ..., 0])
    # An all-True mask against each true mask: IoU = |T| / |all|, its fraction of pixels.
    expected = float(np.mean(public_truth > MASK_THRESHOLD, axis=(1, 2)).mean())
    scores = {row.metric: row.value for row in result.scores if row.split == "public"}
    assert scores["central_iou"] == pytest.approx(expected)


def test_hostile_reading_labels_kept_under_a_bound_folder_sees_nothing(
    make_spec: Callable[..., JobSpec], tmp_path: Path, release_dir: Path, hidden_dir: Path
) -> None:
    # A careless deployment: the hidden labels sit inside the public release folder.
    release = tmp_path / "release"
    shutil.copytree(release_dir, release)
    shutil.copytree(hidden_dir / "labels", release / "hidden_labels")
    attack = """
print("LABELS", os.listdir("/data/public/hidden_labels"), flush=True)
"""
    spec = make_spec(hostile(attack), public_data_dir=str(release))
    result = run_job(spec, tmp_path / "scratch", labels_dir_override=release / "hidden_labels")
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert "LABELS []" in result.log_tail
    assert {row.split for row in result.scores} == {"train", "valid", "public", "private"}


def test_hostile_network_connection_fails(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    attack = "import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=3)"
    result = run_job(make_spec(hostile(attack), kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert "OSError" in (result.error_summary or "")
    assert "unreachable" in (result.error_summary or "")


def test_hostile_fork_bomb_is_contained(make_spec: Callable[..., JobSpec], tmp_path: Path) -> None:
    attack = "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    spec = make_spec(
        hostile(attack), kind=JobKind.QUICK_CHECK, max_processes=48, timeout_seconds=4
    )
    result = run_job(spec, tmp_path)
    # Forks fail past 48 tasks: the bomb spins until the timeout, the host never notices.
    assert result.outcome is JobOutcome.TIMED_OUT, result.error_summary
    assert result.error_summary == f"timed out after {4 / 60:g} min"
    assert result.wall_seconds < 15
    assert result.peak_memory_mb is not None and result.peak_memory_mb < 2048
    # The host can still start processes.
    assert subprocess.run(["true"], check=False).returncode == 0


def test_hostile_disk_filler_hits_the_scratch_cap(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    attack = """
chunk = b"x" * 2**20
with open("/scratch/fill", "wb") as out:
    while True:
        out.write(chunk)
"""
    result = run_job(make_spec(hostile(attack), kind=JobKind.QUICK_CHECK), tmp_path)
    assert result.outcome is JobOutcome.FAILED
    assert (result.error_summary or "").startswith("scratch disk full (limit 50 MB): OSError")
    assert not Path("/scratch/fill").exists() and not Path("/tmp/fill").exists()


def test_hostile_infinite_loop_times_out(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    result = run_job(make_spec(hostile("while True:\n    pass"), timeout_seconds=3), tmp_path)
    assert result.outcome is JobOutcome.TIMED_OUT
    assert result.error_summary == "timed out after 0.05 min"
    assert result.wall_seconds < 10


def test_hostile_killing_everything_only_kills_the_sandbox(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        attack = """
try:
    os.kill(os.getppid(), 9)  # the sandbox's init, owned by root
except PermissionError:
    print("parent: permission denied", flush=True)
os.system("kill -9 -1")  # a shell kills every process it may signal: the submission too
"""
        result = run_job(make_spec(hostile(attack), kind=JobKind.QUICK_CHECK), tmp_path)
        assert result.outcome is JobOutcome.FAILED
        assert "ended without a result (killed by signal 9)" in (result.error_summary or "")
        assert "parent: permission denied" in result.log_tail
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_hostile_huge_output_is_capped(make_spec: Callable[..., JobSpec], tmp_path: Path) -> None:
    attack = """
block = ("x" * 1023 + "\\n") * 1024
for _ in range(1024):  # 1 GiB
    sys.stdout.write(block)
print("END")
"""
    chunks: list[str] = []
    spec = make_spec(hostile(attack), kind=JobKind.QUICK_CHECK)
    result = run_job(spec, tmp_path, log_sink=chunks.append)
    assert result.outcome is JobOutcome.SUCCEEDED, result.error_summary
    assert len(result.log_tail) <= 64 * 1024
    assert result.log_tail.rstrip().endswith("END")
    assert sum(map(len, chunks)) < 16 * 2**20  # at most 64 KB per flush reached the sink


def test_hostile_memory_hog_is_out_of_memory(
    make_spec: Callable[..., JobSpec], tmp_path: Path
) -> None:
    attack = "hog = bytearray(3 * 2**30)\ntime.sleep(30)"
    spec = make_spec(hostile(attack), kind=JobKind.QUICK_CHECK, memory_limit_mb=1024)
    result = run_job(spec, tmp_path)
    assert result.outcome is JobOutcome.OUT_OF_MEMORY
    assert result.error_summary == "out of memory (limit 1024 MB)"
