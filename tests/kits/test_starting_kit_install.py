"""A student installs a starting kit alone: the event's zip, unzipped into an empty folder, holds
what its README's steps need. The test makes a fresh virtual environment from the zip's own
requirements, runs the shell steps of the README (those a student runs in order: install,
make the data, copy a reference submission, ``ramp-test``) and expects ``ramp-test
--quick-test`` to pass. The zip is the one the demo's event of the kit serves: its reference
submissions are those ``demo/events.toml`` marks public."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from server.demo import read_events
from server.web.downloads import reference_submissions, starting_kit_zip

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Steps a README offers but a headless test skips: opening the notebook, remaking data the zip
# already holds, and the editor step of writing one's own submission.
SKIPPED = re.compile(r"jupyter|^\s*(pip install -r requirements-data|python prepare_data|#)")
# Installing TensorFlow from an empty pip cache takes minutes.
INSTALL_TIMEOUT_SECONDS = 2400


def readme_steps(readme: str) -> list[str]:
    """The lines of the README's ``sh`` blocks, in order, minus the skipped steps."""
    # A command continued over lines (a trailing backslash) is one step.
    blocks = [
        re.sub(r"\\\n\s*", "", block)
        for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    ]
    lines = [line.split("  #")[0].rstrip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not SKIPPED.search(line)]


def demo_zip(kit: Path, tmp_path: Path, public_data_dir: Path) -> Path:
    """The starting-kit zip of the demo's event of ``kit``, as the event page serves it."""
    (event,) = [event for event in read_events() if event.kit == kit]
    return starting_kit_zip(
        kit, tmp_path / "cache", kit.name, public_data_dir, event.public_submissions
    )


def install_alone(
    archive: Path, tmp_path: Path, steps_dir: str, smaller: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Unzip ``archive`` into an empty folder and run its README's steps in a bare shell, from
    ``steps_dir`` (a folder of the unzipped archive; the README says which). ``smaller`` maps
    a pattern of a step to its replacement: a data size the README gives for a laptop."""
    student = tmp_path / "student"
    student.mkdir()
    zipfile.ZipFile(archive).extractall(student)
    kit_name = Path(zipfile.ZipFile(archive).namelist()[0]).parts[0]
    steps = readme_steps((student / kit_name / "README.md").read_text())
    for pattern, replacement in (smaller or {}).items():
        assert any(re.search(pattern, step) for step in steps), pattern
        steps = [re.sub(pattern, replacement, step) for step in steps]
    assert any("pip install -r" in step and "requirements.txt" in step for step in steps)
    assert any("ramp-test" in step and "--quick-test" in step for step in steps)
    # Only what the zip holds: a bare environment, the network for pip alone.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    script = "set -euo pipefail\n" + "\n".join(steps) + "\n"
    # The interpreter the platform's own environment was made from, as a student's `python`.
    env["PATH"] = f"{Path(sys.base_prefix) / 'bin'}:{env['PATH']}"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=student / steps_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


def shipped_submissions(archive: Path) -> set[str]:
    """The reference submission folders the zip holds."""
    names = [Path(name).parts for name in zipfile.ZipFile(archive).namelist()]
    return {parts[2] for parts in names if len(parts) > 3 and parts[1] == "submissions"}


def test_morphology_starting_kit_installs_and_runs_alone(tmp_path: Path) -> None:
    kit = ROOT / "kits" / "morphology"
    release = tmp_path / "release"  # small enough to travel in the zip, as the README expects
    command = [sys.executable, "kits/morphology/prepare_data.py", "--out", str(release)]
    subprocess.run([*command, "--n-train", "120", "--n-test", "40"], cwd=ROOT, check=True)
    archive = demo_zip(kit, tmp_path, release)
    assert "morphology/data/train.csv" in zipfile.ZipFile(archive).namelist()
    done = install_alone(archive, tmp_path, "morphology")
    assert "Testing Galaxy morphology" in done.stdout
    assert "Bagged scores" in done.stdout


def test_deblending_starting_kit_installs_and_runs_alone(tmp_path: Path) -> None:
    kit = ROOT / "ramp_kit"
    # An event's blends (2,000 in the demo) are over the zip's data limit: the zip holds no
    # data and the student makes it with the README's command.
    no_release = tmp_path / "release"
    no_release.mkdir()
    archive = demo_zip(kit, tmp_path, no_release)
    shipped = shipped_submissions(archive)
    assert shipped < set(reference_submissions(kit))  # some stay with the instructor
    readme = zipfile.ZipFile(archive).read("ramp_kit/README.md").decode()
    copied = re.findall(r"cp -r ramp_kit/submissions/(\w+)", readme)
    assert copied and set(copied) <= shipped  # the README starts from a baseline it ships
    # The README's data sizes are a laptop's; quick-test reads 64 training and 32 test blends.
    sizes = {r"--n-train \d+ --n-test \d+": "--n-train 64 --n-test 32"}
    done = install_alone(archive, tmp_path, ".", smaller=sizes)
    assert "Testing Galaxy deblending" in done.stdout
    assert "Bagged scores" in done.stdout
