"""The data generator: deterministic releases, sane features, a hidden set from a secret seed."""

import numpy as np
import pandas as pd
import prepare_data
import pytest
from morph_features import FEATURES
from morph_sim import CLASSES
from prepare_data import LABEL_COLUMN, PUBLIC_SEED, main, simulate_split

HIDDEN_VARIABLE = "MORPHOLOGY_TEST_HIDDEN_SEED"


def read(folder, split):
    return pd.read_csv(folder / "data" / f"{split}.csv")


def test_release_has_the_requested_rows_and_columns(release, release_sizes):
    for split, n in release_sizes.items():
        table = read(release, split)
        assert list(table.columns) == [*FEATURES, LABEL_COLUMN]
        assert len(table) == n
    assert set(read(release, "train")[LABEL_COLUMN]) == set(CLASSES)


def test_release_features_are_finite_and_physical(release):
    table = pd.concat([read(release, "train"), read(release, "test")])
    features = table[list(FEATURES)]
    assert np.isfinite(features.to_numpy()).all()
    assert table.gini.between(0, 1).all() and table.ellipticity.between(0, 1).all()
    assert table.shape_asymmetry.between(0, 1).all()
    assert (table.m20 < 0).all()  # the brightest 20 % never hold all the second moment
    assert (table.half_light_radius < table.petrosian_radius).all()
    assert table.concentration.between(1.0, 6.0).all()
    assert table.mag.between(18.0, 26.0).all()


def test_generation_is_the_same_whatever_the_number_of_processes(monkeypatch):
    monkeypatch.setattr(prepare_data, "CHUNK", 2)  # three tasks for two processes
    serial = simulate_split(5, PUBLIC_SEED, "train", jobs=1)
    parallel = simulate_split(5, PUBLIC_SEED, "train", jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_a_smaller_release_is_the_start_of_a_larger_one(release, tmp_path):
    # Every galaxy has its own random stream: the CLI's 6 galaxies are the fixture's first 6.
    assert main(["--out", str(tmp_path), "--n-train", "6", "--n-test", "4", "--jobs", "1"]) == 0
    for split, n in (("train", 6), ("test", 4)):
        pd.testing.assert_frame_equal(read(tmp_path, split), read(release, split).head(n))


def test_seeds_and_splits_draw_different_galaxies(release):
    public_train = read(release, "train").head(4)
    public_test = read(release, "test").head(4)
    other_seed = simulate_split(4, PUBLIC_SEED + 1, "train")
    for a, b in ((public_train, public_test), (public_train, other_seed)):
        assert not np.isclose(a.mag.to_numpy(), b.mag.to_numpy()).any()


def test_hidden_set_writes_only_a_test_file_from_the_secret_seed(release, tmp_path, monkeypatch):
    monkeypatch.setenv(HIDDEN_VARIABLE, "424242")
    argv = ["--hidden", "4", "--seed-env", HIDDEN_VARIABLE, "--out", str(tmp_path), "--jobs", "1"]
    assert main(argv) == 0
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.csv")] == [
        "data/test.csv"
    ]
    hidden = read(tmp_path, "test")
    expected = simulate_split(4, 424242, "test")
    pd.testing.assert_frame_equal(
        hidden, pd.read_csv(prepare_data.write_split(expected, tmp_path / "expected.csv"))
    )
    assert not np.isclose(hidden.mag, read(release, "test").mag.head(4)).any()


def test_hidden_set_refuses_the_public_seed(tmp_path, monkeypatch):
    monkeypatch.setenv(HIDDEN_VARIABLE, str(PUBLIC_SEED))
    with pytest.raises(SystemExit, match="public seed"):
        main(["--hidden", "4", "--seed-env", HIDDEN_VARIABLE, "--out", str(tmp_path)])
    assert not (tmp_path / "data").exists()


def test_hidden_set_refuses_a_missing_seed(tmp_path, monkeypatch):
    monkeypatch.delenv(HIDDEN_VARIABLE, raising=False)
    with pytest.raises(SystemExit, match="expected an integer"):
        main(["--hidden", "4", "--seed-env", HIDDEN_VARIABLE, "--out", str(tmp_path)])


def test_hidden_set_needs_its_seed_variable(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--hidden", "4", "--out", str(tmp_path)])
    assert "--seed-env" in capsys.readouterr().err
