"""What a student downloads with the kit: pinned requirements and a description of the data."""

import re
from pathlib import Path

import pytest
from morph_features import FEATURES

CONSTRAINTS = Path(__file__).resolve().parents[3] / "constraints.txt"


def pins(path):
    """{normalised name: version} of the `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-data.txt"])
def test_requirements_pin_the_versions_of_the_lock(kit_dir, requirements):
    kit_pins = pins(kit_dir / requirements)
    lock = pins(CONSTRAINTS)
    assert kit_pins, f"{requirements} pins nothing"
    assert {name: lock.get(name) for name in kit_pins} == kit_pins


def test_requirements_cover_what_the_kit_imports(kit_dir):
    kit_pins = pins(kit_dir / "requirements.txt")
    assert {"ramp-workflow", "scikit-learn", "pandas", "numpy", "matplotlib"} <= set(kit_pins)
    data_pins = pins(kit_dir / "requirements-data.txt")
    assert {"galsim", "photutils", "astropy"} <= set(data_pins)
    assert "-r requirements.txt" in (kit_dir / "requirements-data.txt").read_text()


def test_description_explains_every_feature_and_score(kit_dir, problem):
    description = (kit_dir / "DESCRIPTION.md").read_text()
    for name in [*FEATURES, *(score.name for score in problem.score_types)]:
        assert f"`{name}`" in description, f"DESCRIPTION.md does not explain {name}"


def test_readme_commands_run_from_the_kit_folder(kit_dir):
    readme = (kit_dir / "README.md").read_text()
    assert "python prepare_data.py --out ." in readme
    assert "ramp-test --submission starting_kit --quick-test" in readme
    for submission in ("starting_kit", "gradient_boosting"):
        assert (kit_dir / "submissions" / submission / "estimator.py").is_file()
        assert f"submissions/{submission}" in readme
