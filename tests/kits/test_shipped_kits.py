"""Every reference submission of every shipped kit: the server's scores equal ``ramp-test``'s on
the same data, bit for bit (the worker runs ramp-workflow's loop in the sandbox)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.livestack import require_sandbox
from tests.kits.ramp_test_oracle import ramp_test_scores, server_scores

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
SEED_VARIABLE = "KIT_TEST_HIDDEN_SEED"
SPLIT_SEED = 4242
# kit folder -> (public data command, hidden data command), small sizes.
KITS = {
    "kits/morphology": (
        ["kits/morphology/prepare_data.py", "--n-train", "200", "--n-test", "60"],
        ["kits/morphology/prepare_data.py", "--hidden", "80", "--seed-env", SEED_VARIABLE],
    ),
    "ramp_kit": (
        ["-m", "ramp_kit.data", "--n-train", "96", "--n-test", "24", "--quiet"],
        ["-m", "ramp_kit.data", "--hidden", "32", "--seed-env", SEED_VARIABLE, "--quiet"],
    ),
}
SLOW_KITS = {"ramp_kit"}  # Keras networks train in minutes, not seconds


def reference_submissions() -> list:
    cases = []
    for kit, _ in KITS.items():
        for folder in sorted((ROOT / kit / "submissions").iterdir()):
            if folder.is_dir() and not folder.name.startswith(("_", ".")):
                marks = [pytest.mark.slow] if kit in SLOW_KITS else []
                cases.append(
                    pytest.param(kit, folder.name, marks=marks, id=f"{kit}:{folder.name}")
                )
    return cases


@pytest.fixture(scope="module")
def kit_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each kit's public and hidden data, made by the kit's own commands, once."""
    made: dict[str, tuple[Path, Path]] = {}

    def make(kit: str) -> tuple[Path, Path]:
        if kit not in made:
            root = tmp_path_factory.mktemp(Path(kit).name)
            root.chmod(0o755)
            public, hidden = root / "public", root / "hidden"
            env = {**os.environ, SEED_VARIABLE: "31337"}
            for out, command in zip((public, hidden), KITS[kit], strict=True):
                argv = [sys.executable, *command, "--out", str(out)]
                subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
            for path in [public, *public.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            made[kit] = public, hidden
        return made[kit]

    return make  # type: ignore[return-value]


@pytest.mark.parametrize(("kit", "submission"), reference_submissions())
def test_reference_submission_scores_equal_ramp_test(
    kit_data, tmp_path: Path, kit: str, submission: str
) -> None:
    require_sandbox()
    public, hidden = kit_data(kit)
    kit_dir, source = ROOT / kit, ROOT / kit / "submissions" / submission
    on_server = server_scores(kit_dir, public, hidden, source, SPLIT_SEED, tmp_path / "scratch")
    expected = ramp_test_scores(kit_dir, public, hidden, source, SPLIT_SEED, tmp_path / "ramp")
    assert on_server == expected  # every fold, split and score, to the last bit
