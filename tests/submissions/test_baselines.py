"""The reference submissions: unit tests on small synthetic blends, then `ramp-test`."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "ramp_kit" / "submissions"
NOISE = 0.003  # sky noise of the synthetic blends (e-/s)
SCORE_NAMES = ["central_flux_error", "companion_flux_error", "central_iou"]


def load_submission(name):
    """Import submissions/<name>/deblender.py as a fresh module, as ramp-test does."""
    spec = importlib.util.spec_from_file_location(
        f"deblender_{name}", SUBMISSIONS / name / "deblender.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gaussian(size, x0, y0, peak, sigma):
    yy, xx = np.mgrid[:size, :size]
    return peak * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2))


def two_blob_blends(n, size=128, seed=0, central_peak=0.1, companion_peak=0.06):
    """Blends of a Gaussian at the centre and one at a random well-separated position."""
    rng = np.random.default_rng(seed)
    centre = (size - 1) / 2
    truth = np.zeros((n, size, size, 2), dtype=np.float32)
    for i in range(n):
        angle = rng.uniform(0, 2 * np.pi)
        x1, y1 = centre + 0.3 * size * np.cos(angle), centre + 0.3 * size * np.sin(angle)
        truth[i, ..., 0] = gaussian(size, centre, centre, central_peak, size / 25)
        truth[i, ..., 1] = gaussian(size, x1, y1, companion_peak, size / 32)
    blends = truth.sum(axis=-1) + rng.normal(0, NOISE, (n, size, size))
    return blends.astype(np.float32), truth


def flux_errors(images, truth):
    """|predicted - true| / true flux of each galaxy, averaged over the blends: (central,
    companion)."""
    true_flux = truth.sum(axis=(1, 2))
    return np.mean(np.abs(images.sum(axis=(1, 2)) - true_flux) / true_flux, axis=0)


@pytest.fixture(scope="module")
def sep_blends():
    """Six synthetic blends, and the starting kit fitted on them (tuning included)."""
    blends, truth = two_blob_blends(6)
    return blends, truth, load_submission("starting_kit").Deblender().fit(blends, truth)


def test_starting_kit_images_are_the_blend_in_each_segment(sep_blends):
    blends, truth, deblender = sep_blends
    images = deblender.predict(blends)
    assert images.shape == (6, 128, 128, 2)
    assert images.dtype == np.float32
    # Each pixel goes whole to one galaxy or to none: the images are the blend or zero.
    lit = images != 0
    assert not (lit[..., 0] & lit[..., 1]).any()
    for channel in range(2):
        assert np.array_equal(images[..., channel][lit[..., channel]], blends[lit[..., channel]])


def test_starting_kit_tunes_its_settings_on_the_training_set(sep_blends):
    _, _, deblender = sep_blends
    module = load_submission("starting_kit")
    assert deblender.settings["thresh"] in module.THRESHOLDS
    assert deblender.settings["deblend_cont"] in module.CONTRASTS
    assert deblender.settings["grow"] in module.GROWS


def test_starting_kit_recovers_separated_fluxes(sep_blends):
    # Well-separated Gaussians: the isophotal fluxes are within 10 % of the truth.
    blends, truth, deblender = sep_blends
    assert (flux_errors(deblender.predict(blends), truth) < 0.1).all()


def test_starting_kit_labels_the_central_blob_even_when_fainter():
    # The companion is the brighter source: the central galaxy is chosen by position.
    blends, truth = two_blob_blends(4, seed=1, central_peak=0.05, companion_peak=0.15)
    deblender = load_submission("starting_kit").Deblender()
    deblender.noise_sigma = NOISE
    images = deblender.predict(blends)
    for i in range(4):
        companion_peak = np.unravel_index(np.argmax(truth[i, ..., 1]), (128, 128))
        assert images[i, 64, 64].tolist() == [blends[i, 64, 64], 0.0]
        assert images[i][companion_peak].tolist() == [0.0, blends[i][companion_peak]]


def test_starting_kit_accepts_big_endian_images_without_fit():
    # FITS files are big-endian; without fit() the noise comes from sep.Background.
    blends, _ = two_blob_blends(2, seed=2)
    images = load_submission("starting_kit").Deblender().predict(blends.astype(">f4"))
    assert (images[:, 64, 64, 0] > 0).all()
    assert (images[..., 1].sum(axis=(1, 2)) > 0).all()


def test_starting_kit_empty_sky_gives_empty_images():
    rng = np.random.default_rng(3)
    blends = rng.normal(0, NOISE, (2, 128, 128)).astype(np.float32)
    deblender = load_submission("starting_kit").Deblender()
    deblender.noise_sigma = NOISE
    deblender.settings["thresh"] = 5.0
    assert deblender.predict(blends).sum() == 0


@pytest.mark.parametrize("name", ["fcnn", "unet"])
def test_network_learns_to_share_the_light(name, monkeypatch):
    # 32x32 stamps with the same central galaxy and a companion at a random place: after a
    # short training, both fluxes within 10 % on the training blends.
    monkeypatch.delenv("RAMP_TEST_MODE", raising=False)
    monkeypatch.setenv("DEBLEND_RECIPE", "short")
    monkeypatch.setenv("DEBLEND_EPOCHS", "40")
    monkeypatch.setenv("DEBLEND_BATCH_SIZE", "8")
    blends, truth = two_blob_blends(32, size=32, seed=4)
    images = load_submission(name).Deblender().fit(blends, truth).predict(blends)
    assert images.shape == (32, 32, 32, 2)
    assert images.dtype == np.float32
    assert (flux_errors(images, truth) < 0.1).all()
    # Fractions of the blend: the two images never hold more than the blend.
    assert (np.abs(images).sum(axis=-1) <= np.abs(blends) * (1 + 1e-5)).all()


@pytest.mark.parametrize("name", ["fcnn", "unet"])
def test_network_quick_test_mode_trains_one_epoch(name, monkeypatch, capsys):
    monkeypatch.setenv("RAMP_TEST_MODE", "1")
    monkeypatch.setenv("DEBLEND_RECIPE", "short")
    monkeypatch.setenv("DEBLEND_EPOCHS", "50")
    blends, truth = two_blob_blends(20, size=32)
    images = load_submission(name).Deblender().fit(blends, truth).predict(blends[:2])
    assert images.shape == (2, 32, 32, 2)
    output = capsys.readouterr().out
    assert "for 1 epoch(s)" in output or "at most 1 epoch(s)" in output
    assert "Epoch 2/" not in output


def test_unet_training_is_reproducible(monkeypatch):
    monkeypatch.setenv("DEBLEND_RECIPE", "short")
    monkeypatch.setenv("DEBLEND_EPOCHS", "2")
    blends, truth = two_blob_blends(20, size=32, seed=5)
    first = load_submission("unet").Deblender().fit(blends, truth).predict(blends)
    second = load_submission("unet").Deblender().fit(blends, truth).predict(blends)
    np.testing.assert_allclose(first, second, atol=1e-5)


def test_unet_finds_the_bfloat16_units_of_the_cpu(monkeypatch, tmp_path):
    unet = load_submission("unet")
    monkeypatch.setattr(unet.keras.distribution, "list_devices", lambda: ["cpu:0"])
    cpuinfo = tmp_path / "cpuinfo"
    for flags, expected in [
        ("fpu sse2 avx2 avx512f avx512bw amx_tile amx_bf16 amx_int8", True),  # Intel AMX
        ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),  # AVX512-BF16 (AMD Zen 4)
        ("fpu sse2 avx2 avx512f avx512bw avx512_vnni", False),  # bfloat16 emulated: slower
    ]:
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        assert unet.has_bfloat16_units(cpuinfo) is expected, flags
    assert unet.has_bfloat16_units(tmp_path / "absent") is False  # not Linux
    monkeypatch.setattr(unet.keras.distribution, "list_devices", lambda: ["gpu:0", "cpu:0"])
    assert unet.has_bfloat16_units(tmp_path / "absent") is True


def test_unet_recipes(monkeypatch):
    unet = load_submission("unet")
    monkeypatch.delenv("DEBLEND_RECIPE", raising=False)
    monkeypatch.delenv("RAMP_TEST_MODE", raising=False)
    default = unet.settings()  # what the server runs: no environment variable reaches it
    assert (default["name"], default["train_minutes"]) == ("short", 25.0)
    assert default["train_crop"] == 64
    # By default the precision follows the hardware: bfloat16 where it has the units for it.
    monkeypatch.setattr(unet, "has_bfloat16_units", lambda: True)
    assert unet.settings()["precision"] == "mixed_bfloat16"
    monkeypatch.setattr(unet, "has_bfloat16_units", lambda: False)
    assert unet.settings()["precision"] == "float32"
    monkeypatch.setenv("DEBLEND_RECIPE", "full")
    full = unet.settings()
    assert (full["name"], full["max_samples"], full["train_minutes"]) == ("full", None, None)
    assert full["symmetries_at_prediction"] == 8
    monkeypatch.setenv("DEBLEND_PRECISION", "mixed_bfloat16")
    assert unet.settings()["precision"] == "mixed_bfloat16"
    monkeypatch.setenv("DEBLEND_PRECISION", "float32")
    monkeypatch.setattr(unet, "has_bfloat16_units", lambda: True)
    assert unet.settings()["precision"] == "float32"
    monkeypatch.setenv("DEBLEND_PRECISION", "half")
    with pytest.raises(ValueError, match=r"DEBLEND_PRECISION should be one of.*got 'half'"):
        unet.settings()
    monkeypatch.delenv("DEBLEND_PRECISION")
    monkeypatch.setenv("DEBLEND_RECIPE", "short")
    monkeypatch.setenv("DEBLEND_TRAIN_MINUTES", "12")
    assert unet.settings()["train_minutes"] == 12.0
    monkeypatch.setenv("DEBLEND_RECIPE", "long")
    with pytest.raises(ValueError, match=r"DEBLEND_RECIPE should be one of.*got 'long'"):
        unet.settings()


def test_unet_time_budget_stops_training_and_keeps_best_weights(monkeypatch, capsys):
    monkeypatch.delenv("RAMP_TEST_MODE", raising=False)
    monkeypatch.setenv("DEBLEND_RECIPE", "short")
    monkeypatch.setenv("DEBLEND_EPOCHS", "30")
    monkeypatch.setenv("DEBLEND_TRAIN_MINUTES", "0")
    blends, truth = two_blob_blends(20, size=32, seed=6)
    load_submission("unet").Deblender().fit(blends, truth)
    output = capsys.readouterr().out
    assert "stopping after epoch 1 (time budget)" in output
    assert "kept the weights of val_deblending_loss" in output


def test_unet_learning_rate_anneals_over_the_epochs_whatever_the_clock(monkeypatch):
    # Half a cosine from the first learning rate to the last over 10 epochs. A slow
    # machine that runs out of its hour after 7 epochs has run the same 7 epochs as a fast
    # one: the clock stops the training, it never changes it.
    unet = load_submission("unet")
    clock = {"now": 0.0}
    monkeypatch.setattr(unet.time, "monotonic", lambda: clock["now"])
    schedules = []
    for seconds_per_epoch in (0.5, 500.0):
        model = unet.keras.Sequential([unet.keras.Input((1,)), unet.keras.layers.Dense(1)])
        model.compile(optimizer=unet.keras.optimizers.Adam(unet.LEARNING_RATE), loss="mse")
        keep_best = unet.KeepBest(monitor="val_loss")
        keep_best.deadline = 3600.0
        callbacks = unet.keras.callbacks.CallbackList(
            [unet.cosine_schedule(10), keep_best], model=model, epochs=10
        )
        callbacks.on_train_begin()
        rates = []
        for epoch in range(10):
            callbacks.on_epoch_begin(epoch)
            rates.append(float(unet.ops.convert_to_numpy(model.optimizer.learning_rate)))
            clock["now"] += seconds_per_epoch
            callbacks.on_epoch_end(epoch, {"val_loss": 1.0})
            if model.stop_training:
                break
        schedules.append(rates)
        clock["now"] = 0.0
    rates, slow_rates = schedules
    assert len(rates) == 10
    assert slow_rates == rates[:7]
    assert rates[0] == pytest.approx(unet.LEARNING_RATE)
    assert rates[-1] == pytest.approx(unet.FINAL_LEARNING_RATE)
    assert all(later < earlier for earlier, later in zip(rates[:-1], rates[1:], strict=True))
    middle = (unet.LEARNING_RATE + unet.FINAL_LEARNING_RATE) / 2
    assert rates[4] > middle > rates[5]  # symmetric about the middle of the training


def test_unet_learns_on_crops_and_deblends_whole_stamps(monkeypatch, capsys):
    # Trained on crops of 16 px of 32-px stamps, it deblends the whole stamps: both galaxies
    # within 10 %.
    monkeypatch.delenv("RAMP_TEST_MODE", raising=False)
    monkeypatch.setenv("DEBLEND_RECIPE", "short")
    monkeypatch.setenv("DEBLEND_EPOCHS", "60")
    monkeypatch.setenv("DEBLEND_BATCH_SIZE", "8")
    unet = load_submission("unet")
    monkeypatch.setitem(unet.RECIPES["short"], "train_crop", 16)
    blends, truth = two_blob_blends(32, size=32, seed=4)
    images = unet.Deblender().fit(blends, truth).predict(blends)
    output = capsys.readouterr().out
    assert "(16-pixel crops)" in output
    assert "at most 60 epoch(s)" in output
    assert (flux_errors(images, truth) < 0.1).all()


def test_unet_crop_inputs_are_the_whole_stamps_inputs_cropped():
    unet = load_submission("unet")
    blends, _ = two_blob_blends(3, size=32, seed=7)
    whole = unet.prepare_inputs(blends, NOISE)
    corners = np.array([[0, 0], [8, 16], [16, 5]])
    crops = unet.cut_crops(blends, corners, 16)
    cropped = unet.prepare_inputs(crops, NOISE, corners.astype(np.float32), stamp_side=32)
    for i, (row, column) in enumerate(corners):
        np.testing.assert_allclose(cropped[i], whole[i, row : row + 16, column : column + 16])


def test_unet_crop_losses_add_up_to_the_whole_stamp_loss():
    # Empty predicted images: on the whole stamp each galaxy's flux error and residual is 1,
    # the loss 2. Each quadrant adds its share of the whole galaxies' flux and sum of squares.
    unet = load_submission("unet")
    _, truth = two_blob_blends(1, size=16, seed=8)
    blend = truth.sum(axis=-1, keepdims=True)
    packed = np.concatenate([truth, blend], axis=-1)
    empty = np.zeros((1, 16, 16, 3), dtype=np.float32)
    empty[..., 2] = 1.0  # all the light to "neither"
    whole_loss = unet.keras.ops.convert_to_numpy(unet.deblending_loss(packed, empty))
    assert whole_loss.tolist() == pytest.approx([2.0])
    norms = np.concatenate([truth.sum(axis=(1, 2)), np.square(truth).sum(axis=(1, 2))], axis=-1)
    total = 0.0
    for row in (0, 8):
        for column in (0, 8):
            crop = packed[:, row : row + 8, column : column + 8]
            crop = np.concatenate(
                [crop, np.broadcast_to(norms[:, None, None, :], (1, 8, 8, 4))], axis=-1
            )
            loss = unet.deblending_loss(crop.astype(np.float32), empty[:, :8, :8])
            total += float(unet.keras.ops.convert_to_numpy(loss)[0])
    assert total == pytest.approx(2.0, rel=1e-5)


def test_unet_fraction_term_pulls_every_pixel_towards_the_true_shares():
    # Pixel 1: central 3, companion 1, sky level 1 -> shares (0.6, 0.2, 0.2).
    # Pixel 2: no galaxy light (a negative ripple counts as none) -> all sky.
    unet = load_submission("unet")
    truth = np.array([[[[3.0, 1.0], [0.0, -0.5]]]], dtype=np.float32)  # (1, 1, 2, 2)
    target = unet.keras.ops.convert_to_numpy(unet.target_fractions(truth, 1.0))
    np.testing.assert_allclose(target[0, 0], [[0.6, 0.2, 0.2], [0.0, 0.0, 1.0]], atol=1e-6)
    packed = np.concatenate([truth, truth.sum(axis=-1, keepdims=True)], axis=-1)
    exact = unet.fraction_loss(packed, target, 1.0)
    assert unet.keras.ops.convert_to_numpy(exact).tolist() == pytest.approx([0.0], abs=1e-5)
    # Pixel 1 given evenly (1/3 each): 0.6 ln 1.8 + 0.2 ln 0.6 * 2; pixel 2 exact. Mean of 2.
    even = np.array(target)
    even[0, 0, 0] = 1 / 3
    expected = (0.6 * np.log(1.8) + 0.4 * np.log(0.6)) / 2
    loss = unet.keras.ops.convert_to_numpy(unet.fraction_loss(packed, even, 1.0))
    assert loss.tolist() == pytest.approx([expected], rel=1e-4)


def test_unet_signal_term_counts_the_light_given_to_the_wrong_galaxy():
    # Pixel 1: central 3, companion 1; pixel 2: central 1, companion 1 (fluxes 4 and 2).
    unet = load_submission("unet")
    truth = np.array([[[[3.0, 1.0], [1.0, 1.0]]]], dtype=np.float32)  # (1, 1, 2, 2)
    packed = np.concatenate([truth, truth.sum(axis=-1, keepdims=True)], axis=-1)
    exact = np.zeros((1, 1, 2, 3), dtype=np.float32)
    exact[..., :2] = truth / truth.sum(axis=-1, keepdims=True)
    loss = unet.keras.ops.convert_to_numpy(unet.signal_loss(packed, exact))
    assert loss.tolist() == pytest.approx([0.0], abs=1e-6)
    # Pixel 1 given evenly (2, 2): 1 too little for the central (flux 4), 1 too much for the
    # companion (flux 2).
    even = np.array(exact)
    even[0, 0, 0, :2] = 0.5
    loss = unet.keras.ops.convert_to_numpy(unet.signal_loss(packed, even))
    assert loss.tolist() == pytest.approx([(1 / 4 + 1 / 2) / 2], rel=1e-5)
    # On a crop, the errors are divided by the whole galaxies' fluxes (channels 3-4): 8 and 4.
    whole = np.broadcast_to(np.array([8.0, 4.0, 0.0, 0.0], np.float32), (1, 1, 2, 4))
    crop = np.concatenate([packed, whole], axis=-1)
    loss = unet.keras.ops.convert_to_numpy(unet.signal_loss(crop, even))
    assert loss.tolist() == pytest.approx([(1 / 8 + 1 / 4) / 2], rel=1e-5)


def test_unet_symmetries_are_undone():
    unet = load_submission("unet")
    images = np.random.default_rng(0).random((2, 8, 8, 3))
    for index in range(8):
        turned = unet.symmetry(images, index)
        assert np.array_equal(unet.inverse_symmetry(turned, index), images)
    # The 8 symmetries are distinct.
    assert len({unet.symmetry(images, index).tobytes() for index in range(8)}) == 8


@pytest.mark.parametrize("name", ["fcnn", "unet"])
def test_network_loss_is_the_challenge_scores(name):
    # One blend of 2 pixels, noiseless: central (3, 1), companion (1, 1), blend (4, 2).
    # Fractions (0.5, 0.5) for both galaxies: images (2, 1) and (2, 1).
    # Central: flux 3 for 4 -> 0.25; residual (1 + 0) / (9 + 1) = 0.1.
    # Companion: flux 3 for 2 -> 0.5; residual (1 + 0) / (1 + 1) = 0.5.
    # Loss: mean over the galaxies of flux error + residual = (0.35 + 1.0) / 2 = 0.675.
    module = load_submission(name)
    truth = np.array([[[[3.0, 1.0], [1.0, 1.0]]]], dtype=np.float32)  # (1, 1, 2, 2)
    blend = truth.sum(axis=-1, keepdims=True)
    fractions = np.zeros((1, 1, 2, 3), dtype=np.float32)
    fractions[..., :2] = 0.5
    loss = module.deblending_loss(np.concatenate([truth, blend], axis=-1), fractions)
    assert module.keras.ops.convert_to_numpy(loss).tolist() == pytest.approx([0.675])


@pytest.fixture(scope="session")
def quick_release(tmp_path_factory):
    """A tiny student release (data/train, data/test) made by the kit's simulator."""
    from ramp_kit.data import generate_student_release

    out_dir = tmp_path_factory.mktemp("release")
    generate_student_release(out_dir, n_train=24, n_test=12, seed=2019, jobs=1, progress=False)
    return out_dir


@pytest.mark.parametrize("name", ["starting_kit", "fcnn", "unet"])
def test_submission_passes_ramp_test_quick_test(name, quick_release, tmp_path):
    # Run from a copy so that ramp-test writes nothing into the source tree.
    submission_dir = tmp_path / "submissions" / name
    submission_dir.mkdir(parents=True)
    shutil.copy(SUBMISSIONS / name / "deblender.py", submission_dir)
    command = [
        str(Path(sys.executable).parent / "ramp-test"),
        "--ramp-kit-dir", str(ROOT / "ramp_kit"),
        "--ramp-data-dir", str(quick_release),
        "--ramp-submission-dir", str(tmp_path / "submissions"),
        "--submission", name,
        "--quick-test",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    bagged = result.stdout.split("Bagged scores")[-1]
    for score_name in SCORE_NAMES:
        assert score_name in bagged
    assert "Testing" in result.stdout
