"""The server scores a submission exactly as ``ramp-test`` does, bit for bit."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.engine.job import JobKind, JobLimits, JobSpec
from server.engine.worker import run_job
from tests.kits.public_kit import ELEMENT_FILE, SUBMISSIONS
from tests.kits.ramp_test_oracle import ramp_test_scores

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

SEED = 97


def server_scores(
    kit_dir: Path, public_dir: Path, hidden_dir: Path, files: dict[str, bytes], scratch: Path
) -> dict[tuple[str, int | None, str], float]:
    spec = JobSpec(
        submission_id=1,
        attempt=0,
        kind=JobKind.FULL,
        files=files,
        kit_dir=str(kit_dir),
        public_data_dir=str(public_dir),
        hidden_data_dir=str(hidden_dir),
        hidden_split_seed=SEED,
        limits=JobLimits(
            timeout_seconds=1800,
            memory_limit_mb=8192,
            max_processes=512,
            disk_limit_mb=512,
            output_limit_mb=4096,
        ),
    )
    result = run_job(spec, scratch)
    assert result.error_summary is None, (result.error_summary, result.error_traceback)
    return {(row.split, row.fold, row.metric): row.value for row in result.scores}


@pytest.mark.parametrize("submission", sorted(SUBMISSIONS))
def test_public_kit_scores_equal_ramp_test(
    kit_dir: Path, hidden_dir: Path, tmp_path: Path, submission: str
) -> None:
    source = kit_dir / "submissions" / submission
    files = {ELEMENT_FILE: (source / ELEMENT_FILE).read_bytes()}
    on_server = server_scores(kit_dir, kit_dir, hidden_dir, files, tmp_path / "scratch")
    expected = ramp_test_scores(kit_dir, kit_dir, hidden_dir, source, SEED, tmp_path / "ramp")
    assert on_server == expected  # every fold, split and score, to the last bit
