"""The data releases and their command line: layouts, seeds, secrecy, and no shared blend."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from ramp_kit.constants import PUBLIC_SEED
from ramp_kit.data import generate_hidden_set, main
from ramp_kit.io import read_blends, read_catalogue, read_split, read_truth
from ramp_kit.simulate import SPLIT_CODES, simulate_blends
from ramp_kit.splits import get_test_data

HIDDEN_SEED = 424242
N_HIDDEN = 30  # more than one chunk of 25
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    argv = ["--n-train", "6", "--n-test", "4", "--out", str(out), "--jobs", "1", "--quiet"]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def hidden(tmp_path_factory):
    out = tmp_path_factory.mktemp("hidden")
    # Two processes, two chunks: the writer must put every chunk in its place.
    return generate_hidden_set(out, N_HIDDEN, HIDDEN_SEED, jobs=2, progress=False)


def test_cli_student_release_is_readable(student):
    for split, n in (("train", 6), ("test", 4)):
        X, y = read_split(student / "data" / split)  # noqa: N806
        assert X.shape == (n, 128, 128) and y.shape == (n, 128, 128, 2)
        assert np.isfinite(X).all() and (y >= -1e-3).all()
        assert len(read_catalogue(student / "data" / split)) == n
    assert fits.getheader(student / "data" / "train" / "blends.fits")["SEED"] == PUBLIC_SEED


def test_cli_student_release_matches_the_simulator(student):
    blends, truth, catalogue = simulate_blends(6, PUBLIC_SEED, SPLIT_CODES["train"], jobs=1)
    split = student / "data" / "train"
    np.testing.assert_array_equal(read_blends(split), blends)
    np.testing.assert_array_equal(read_truth(split), truth.transpose(0, 2, 3, 1))
    assert list(read_catalogue(split)["central_id"]) == list(catalogue["central_id"])


def test_hidden_set_is_the_test_split_of_a_data_folder(hidden):
    # The layout of a student release's test split: the kit's own reader takes it.
    split = hidden / "data" / "test"
    assert sorted(p.name for p in split.iterdir()) == [
        "blends.fits",
        "catalogue.fits",
        "truth.fits",
    ]
    assert sorted(p.name for p in hidden.iterdir()) == ["data"]
    assert sorted(p.name for p in (hidden / "data").iterdir()) == ["test"]
    X, y = get_test_data(hidden)  # noqa: N806
    assert X.shape == (N_HIDDEN, 128, 128) and y.shape == (N_HIDDEN, 128, 128, 2)
    header = fits.getheader(split / "blends.fits")
    assert "SEED" not in header and header["SPLIT"] == "hidden"  # the secret seed is nowhere


def test_hidden_set_chunks_written_in_order(hidden):
    blends, truth, _ = simulate_blends(N_HIDDEN, HIDDEN_SEED, SPLIT_CODES["hidden"], jobs=1)
    split = hidden / "data" / "test"
    np.testing.assert_array_equal(read_blends(split), blends)
    np.testing.assert_array_equal(read_truth(split), truth.transpose(0, 2, 3, 1))


def test_hidden_set_shares_no_blend_with_student_release(student, hidden):
    hidden_catalogue = read_catalogue(hidden / "data" / "test")
    hidden_ids = set(hidden_catalogue["central_id"]) | set(hidden_catalogue["companion_id"])
    hidden_fluxes = set(hidden_catalogue["central_flux"]) | set(hidden_catalogue["companion_flux"])
    for split in ("train", "test"):
        catalogue = read_catalogue(student / "data" / split)
        assert hidden_ids.isdisjoint(set(catalogue["central_id"]) | set(catalogue["companion_id"]))
        assert hidden_fluxes.isdisjoint(
            set(catalogue["central_flux"]) | set(catalogue["companion_flux"])
        )
    train = read_catalogue(student / "data" / "train")
    test = read_catalogue(student / "data" / "test")
    assert set(train["central_id"]).isdisjoint(test["central_id"])


def test_generate_hidden_set_refuses_public_seed(tmp_path):
    with pytest.raises(ValueError, match="public seed 2019"):
        generate_hidden_set(tmp_path, 2, PUBLIC_SEED, jobs=1, progress=False)
    assert not (tmp_path / "data").exists()


def test_cli_hidden_refuses_public_seed(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--hidden", "2", "--seed", str(PUBLIC_SEED), "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "cannot use the public seed" in capsys.readouterr().err


def test_cli_hidden_without_seed_variable_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEBLEND_TEST_NO_SUCH_SEED", raising=False)
    argv = ["--hidden", "2", "--seed-env", "DEBLEND_TEST_NO_SUCH_SEED", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "DEBLEND_TEST_NO_SUCH_SEED is not set" in capsys.readouterr().err


def test_cli_module_writes_hidden_set_from_seed_variable(tmp_path):
    env = {**os.environ, "DEBLEND_TEST_HIDDEN_SEED": str(HIDDEN_SEED)}
    argv = ["--hidden", "2", "--seed-env", "DEBLEND_TEST_HIDDEN_SEED", "--out", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "ramp_kit.data", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "simulating hidden" in result.stderr  # the progress bar
    expected, _, _ = simulate_blends(2, HIDDEN_SEED, SPLIT_CODES["hidden"], jobs=1)
    np.testing.assert_array_equal(read_blends(tmp_path / "data" / "test"), expected)


def test_cli_hidden_rejects_student_sizes(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--hidden", "2", "--seed", "5", "--n-train", "4", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "for the student release" in capsys.readouterr().err
