"""A student installs a starting kit alone: the event's zip, unzipped into an empty folder, holds
what its README's steps need. The test makes a fresh virtual environment from the zip's own
requirements, runs the shell steps of the README (those a student runs in order: install,
then ``ramp-test``) and expects ``ramp-test --quick-test`` to pass."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from server.web.downloads import starting_kit_zip

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Steps a README offers but a headless test skips: opening the notebook, remaking data the zip
# already holds, and the editor step of writing one's own submission.
SKIPPED = re.compile(r"^\s*(jupyter|pip install -r requirements-data|python prepare_data|#)")


def readme_steps(readme: str) -> list[str]:
    """The lines of the README's ``sh`` blocks, in order, minus the skipped steps."""
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    lines = [line.split("  #")[0].rstrip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not SKIPPED.match(line)]


def make_morphology_release(out: Path) -> Path:
    """A small public release of the morphology kit, made by its own generator."""
    command = [sys.executable, "kits/morphology/prepare_data.py", "--out", str(out)]
    subprocess.run([*command, "--n-train", "120", "--n-test", "40"], cwd=ROOT, check=True)
    return out


def test_morphology_starting_kit_installs_and_runs_alone(tmp_path: Path) -> None:
    release = make_morphology_release(tmp_path / "release")
    archive = starting_kit_zip(
        ROOT / "kits" / "morphology", tmp_path / "cache", "morphology", release
    )
    student = tmp_path / "student"
    student.mkdir()
    zipfile.ZipFile(archive).extractall(student)
    kit = student / "morphology"
    steps = readme_steps((kit / "README.md").read_text())
    assert any("pip install -r requirements.txt" in step for step in steps)
    assert any("ramp-test" in step and "--quick-test" in step for step in steps)
    # Only what the zip holds: a bare environment, the network for pip alone.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    script = "set -euo pipefail\n" + "\n".join(steps) + "\n"
    # The interpreter the platform's own environment was made from, as a student's `python`.
    env["PATH"] = f"{Path(sys.base_prefix) / 'bin'}:{env['PATH']}"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=kit,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Testing Galaxy morphology" in done.stdout
    assert "Bagged scores" in done.stdout
