"""The blend simulator: determinism, ranges, the offset rule, truth, masks and noise."""

import numpy as np
import pytest

from ramp_kit.constants import MASK_THRESHOLD, NOISE_SIGMA, STAMP_SIZE, ZERO_POINT
from ramp_kit.sim_params import CENTRE, draw_pair, offset_range
from ramp_kit.simulate import SPLIT_CODES, simulate_blends

N = 8
SEED = 11


@pytest.fixture(scope="module")
def blends_set():
    return simulate_blends(N, SEED, SPLIT_CODES["train"], jobs=1)


def test_simulate_blends_shapes_and_dtypes(blends_set):
    blends, truth, catalogue = blends_set
    assert blends.shape == (N, STAMP_SIZE, STAMP_SIZE) and blends.dtype == np.float32
    assert truth.shape == (N, 2, STAMP_SIZE, STAMP_SIZE) and truth.dtype == np.float32
    assert len(catalogue) == N and list(catalogue["blend_id"]) == list(range(N))


def test_simulate_blends_same_seed_identical_whatever_the_jobs(blends_set):
    blends, truth, catalogue = blends_set
    # Three processes on chunks of 3: another chunking and other processes, same numbers.
    again_blends, again_truth, again_catalogue = simulate_blends(
        N, SEED, SPLIT_CODES["train"], jobs=3, chunk_size=3
    )
    np.testing.assert_array_equal(again_blends, blends)
    np.testing.assert_array_equal(again_truth, truth)
    for name in catalogue.colnames:
        assert list(again_catalogue[name]) == list(catalogue[name]), name


def test_simulate_blends_other_seed_differs(blends_set):
    other_blends, _, other_catalogue = simulate_blends(2, SEED + 1, SPLIT_CODES["train"], jobs=1)
    assert not np.array_equal(other_blends, blends_set[0][:2])
    assert set(other_catalogue["central_id"]).isdisjoint(blends_set[2]["central_id"])


def test_simulate_blends_magnitudes_and_radii_in_range(blends_set):
    catalogue = blends_set[2]
    for role in ("central", "companion"):
        mag = np.asarray(catalogue[f"{role}_mag"])
        assert np.all((mag >= 18.0) & (mag <= 23.5))
        np.testing.assert_allclose(catalogue[f"{role}_flux"], 10 ** (-0.4 * (mag - ZERO_POINT)))
        hlr = np.asarray(catalogue[f"{role}_hlr"])
        assert np.all((hlr >= 1.0) & (hlr <= 23.0))
    assert np.all(np.abs(catalogue["central_mag"] - catalogue["companion_mag"]) < 2.0)


def test_draw_pair_follows_the_offset_rule():
    rng = np.random.default_rng(3)
    for _ in range(300):
        central, companion = draw_pair(rng)
        low, high = offset_range(central.hlr, companion.hlr)
        distance = np.hypot(companion.x - central.x, companion.y - central.y)
        assert low <= distance <= high
        assert high <= 64.0 and low == max(central.hlr, companion.hlr)
        assert abs(central.x - CENTRE) <= 0.5 and abs(central.y - CENTRE) <= 0.5


def test_simulate_blends_central_truth_holds_its_flux(blends_set):
    _, truth, catalogue = blends_set
    # The central galaxy sits in the middle of the stamp: only its faint wings are cut off.
    fraction = truth[:, 0].sum(axis=(1, 2)) / np.asarray(catalogue["central_flux"])
    assert np.all((fraction > 0.85) & (fraction < 1.01))


def test_simulate_blends_truth_peaks_at_catalogue_position(blends_set):
    _, truth, catalogue = blends_set
    checked = 0
    for i in range(N):
        for role, name in enumerate(("central", "companion")):
            x, y = catalogue[f"{name}_x"][i], catalogue[f"{name}_y"][i]
            inside = 2 <= x <= STAMP_SIZE - 3 and 2 <= y <= STAMP_SIZE - 3
            if catalogue[f"{name}_n_knots"][i] or not inside:
                continue  # a knot can outshine the centre
            row, col = np.unravel_index(np.argmax(truth[i, role]), truth[i, role].shape)
            # x is the column, y the row.
            assert abs(col - x) <= 1.0 and abs(row - y) <= 1.0
            checked += 1
    assert checked >= N // 2


def test_simulate_blends_overlap_counts_mask_intersection(blends_set):
    _, truth, catalogue = blends_set
    masks = truth > MASK_THRESHOLD
    overlap = (masks[:, 0] & masks[:, 1]).sum(axis=(1, 2))
    np.testing.assert_array_equal(catalogue["overlap_pixels"], overlap)
    # Every central galaxy covers the middle of the stamp.
    assert masks[:, 0, STAMP_SIZE // 2, STAMP_SIZE // 2].all()


def test_simulate_blends_noise_is_correlated_sky_noise(blends_set):
    blends, truth, _ = blends_set
    residual = blends.astype(np.float64) - truth.sum(axis=1)
    sky = truth.sum(axis=1) < 1e-4  # where the galaxies add no shot noise
    assert residual[sky].std() == pytest.approx(NOISE_SIGMA, rel=0.05)
    assert abs(residual[sky].mean()) < 0.05 * NOISE_SIGMA
    # Drizzled HST noise: neighbouring pixels correlate at ~0.48 (GalSim's ACS function).
    unit = residual / residual.std()
    lag1 = np.mean(unit[:, :, 1:] * unit[:, :, :-1])
    assert lag1 == pytest.approx(0.48, abs=0.05)


def test_simulate_blends_splits_share_no_galaxy():
    _, _, train = simulate_blends(4, SEED, SPLIT_CODES["train"], jobs=1)
    _, _, test = simulate_blends(4, SEED, SPLIT_CODES["test"], jobs=1)
    ids = [set(t["central_id"]) | set(t["companion_id"]) for t in (train, test)]
    assert len(ids[0]) == 8 and ids[0].isdisjoint(ids[1])
    assert not np.isin(train["central_flux"], test["central_flux"]).any()


def test_galaxy_id_identifies_the_parameters():
    first, second = draw_pair(np.random.default_rng(0))
    same_first, _ = draw_pair(np.random.default_rng(0))
    assert first.galaxy_id == same_first.galaxy_id != second.galaxy_id
