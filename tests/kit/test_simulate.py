"""The blend simulator: determinism, the paper's distributions, the offset rule, morphology,
truth, masks, noise and depth."""

import dataclasses

import numpy as np
import pytest

from ramp_kit import sim_tables
from ramp_kit.constants import MASK_THRESHOLD, NOISE_SIGMA, PIXEL_SCALE, STAMP_SIZE, ZERO_POINT
from ramp_kit.sim_galaxy import draw_galaxy, psf
from ramp_kit.sim_noise import point_source_depth
from ramp_kit.sim_params import (
    CENTRE,
    FALLBACK_FRACTION,
    IRREGULAR,
    MAG_MAX,
    MAG_MIN,
    MORPHOLOGIES,
    draw_pair,
    offset_range,
)
from ramp_kit.sim_stats import DISTRIBUTIONS, blend_statistics, quantile_key
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


def test_simulate_blends_magnitudes_radii_and_classes_in_range(blends_set):
    catalogue = blends_set[2]
    for role in ("central", "companion"):
        mag = np.asarray(catalogue[f"{role}_mag"])
        assert np.all((mag >= MAG_MIN) & (mag <= MAG_MAX)) and MAG_MAX < 23.0
        np.testing.assert_allclose(catalogue[f"{role}_flux"], 10 ** (-0.4 * (mag - ZERO_POINT)))
        hlr = np.asarray(catalogue[f"{role}_hlr"])
        assert np.all((hlr >= 0.8) & (hlr <= 24.0))
        assert set(catalogue[f"{role}_morphology"]) <= set(MORPHOLOGIES)
    assert np.all(np.abs(catalogue["central_mag"] - catalogue["companion_mag"]) < 2.0)


def _pairs(n, seed=3):
    rng = np.random.default_rng(seed)
    return [draw_pair(rng) for _ in range(n)]


def test_draw_pair_follows_the_offset_rule_and_its_fallback():
    fallbacks = 0
    for central, companion in _pairs(600):
        larger, smaller = sorted((central.hlr, companion.hlr), reverse=True)
        low, high = offset_range(central.hlr, companion.hlr)
        distance = np.hypot(companion.x - central.x, companion.y - central.y)
        assert low <= distance <= high <= 64.0
        assert high == min(4.0 * smaller, 64.0)
        if larger > 4.0 * smaller:
            # The original generator's fallback: just inside the largest allowed distance,
            # closer than the larger radius (a close blend). The sizes are kept, not redrawn.
            fallbacks += 1
            assert low == pytest.approx(FALLBACK_FRACTION * high) and distance < larger
        else:
            assert low == larger
        assert abs(central.x - CENTRE) <= 0.5 and abs(central.y - CENTRE) <= 0.5
    assert 30 <= fallbacks <= 110  # about 11.6 % of 600 blends, as in the paper


def _catalogue(pairs):
    columns = {}
    for role, which in (("central", 0), ("companion", 1)):
        columns[f"{role}_mag"] = np.array([pair[which].mag for pair in pairs])
        columns[f"{role}_hlr"] = np.array([pair[which].hlr for pair in pairs])
        columns[f"{role}_morphology"] = np.array([pair[which].morphology for pair in pairs])
    columns["separation"] = np.array([np.hypot(c.x - g.x, c.y - g.y) for g, c in pairs])
    return columns


def test_draw_pair_matches_the_papers_test_blends():
    # 2,000 blends: a median's sampling error is 2-3 %. The simulator before it was matched
    # to the paper missed the radius and separation medians by 35 % and had no close blend.
    kit = blend_statistics(_catalogue(_pairs(2000, seed=8)), MORPHOLOGIES)
    paper = sim_tables.PAPER_STATISTICS
    for name in DISTRIBUTIONS:
        key = quantile_key(name, 0.5)
        assert kit[key] == pytest.approx(paper[key], rel=0.08), key
    assert kit["close_fraction"] == pytest.approx(paper["close_fraction"], abs=0.03)
    for morphology in MORPHOLOGIES:
        key = f"{morphology}_fraction"
        assert kit[key] == pytest.approx(paper[key], abs=0.03), key


def _asymmetry(galaxy):
    """sum |I - I rotated by 180 degrees| / sum I of the galaxy drawn at the stamp centre."""
    image = draw_galaxy(dataclasses.replace(galaxy, x=CENTRE, y=CENTRE))
    return np.abs(image - image[::-1, ::-1]).sum() / np.abs(image).sum()


def test_irregular_galaxies_are_lopsided_and_smooth_ones_symmetric():
    galaxies = [galaxy for pair in _pairs(40, seed=5) for galaxy in pair]
    irregular = [g for g in galaxies if g.morphology == IRREGULAR]
    smooth = [g for g in galaxies if g.morphology != IRREGULAR and not g.knots]
    assert len(irregular) >= 10 and len(smooth) >= 10
    # A knotty, off-centre light that no pair of smooth profiles reproduces.
    assert all(_asymmetry(g) > 0.2 for g in irregular)
    assert all(g.n_knots >= 10 and g.clump_fraction >= 0.1 for g in irregular)
    assert all(_asymmetry(g) < 0.01 for g in smooth)


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
            lumpy = catalogue[f"{name}_n_knots"][i] or catalogue[f"{name}_clump_fraction"][i]
            if lumpy or not inside:
                continue  # a knot or a clump can outshine the centre
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


def test_simulate_blends_depth_is_candels_wide(blends_set):
    blends, truth, _ = blends_set
    signal = truth.sum(axis=1).astype(np.float64)
    point_source = psf().withFlux(1.0).drawImage(nx=33, ny=33, scale=PIXEL_SCALE).array
    # CANDELS Wide: 5 sigma point-source limit H = 27.0 (Grogin et al. 2011).
    depth = point_source_depth(blends - signal, signal, point_source)
    assert depth == pytest.approx(27.0, abs=0.1)


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
