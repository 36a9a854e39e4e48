"""Fixtures of the galaxy-morphology kit: its folder, its problem and a small data release."""

import sys
from pathlib import Path

import pytest
import rampwf

KIT = Path(__file__).resolve().parents[3] / "kits" / "morphology"
# The data generator is a script of the kit, next to its helper modules, not a package.
sys.path.insert(0, str(KIT))

RELEASE_SIZES = {"train": 240, "test": 80}


@pytest.fixture(scope="session")
def kit_dir() -> Path:
    return KIT


@pytest.fixture(scope="session")
def problem():
    return rampwf.utils.assert_read_problem(str(KIT))


@pytest.fixture(scope="session")
def release_sizes() -> dict[str, int]:
    return dict(RELEASE_SIZES)


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Path:
    """A release made as a student would, with the public seed: DIR/data/{train,test}.csv."""
    from prepare_data import PUBLIC_SEED, generate_release

    out = tmp_path_factory.mktemp("morphology_release")
    n_train, n_test = RELEASE_SIZES["train"], RELEASE_SIZES["test"]
    generate_release(out, n_train=n_train, n_test=n_test, seed=PUBLIC_SEED, jobs=2)
    return out
