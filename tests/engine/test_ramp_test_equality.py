"""The server scores a submission exactly as ``ramp-test`` does, bit for bit: on a kit written
as public RAMP kits are. The shipped kits are checked in tests/kits/test_shipped_kits.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kits.public_kit import SUBMISSIONS
from tests.kits.ramp_test_oracle import ramp_test_scores, server_scores

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("sandbox")]

SEED = 97


@pytest.mark.parametrize("submission", sorted(SUBMISSIONS))
def test_public_kit_scores_equal_ramp_test(
    kit_dir: Path, hidden_dir: Path, tmp_path: Path, submission: str
) -> None:
    source = kit_dir / "submissions" / submission
    on_server = server_scores(kit_dir, kit_dir, hidden_dir, source, SEED, tmp_path / "scratch")
    expected = ramp_test_scores(kit_dir, kit_dir, hidden_dir, source, SEED, tmp_path / "ramp")
    assert on_server == expected  # every fold, split and score, to the last bit
