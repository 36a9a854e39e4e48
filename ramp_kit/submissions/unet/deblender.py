"""A U-Net that deblends a central galaxy and its companion, in Keras 3.

The network predicts, for every pixel, the fractions of the blend's light that belong to the
central galaxy, to its companion and to neither (a softmax over three channels); the
deblended images are these fractions times the blend. Light is then conserved by
construction: the two images never hold more than the blend, and where both galaxies shine a
pixel is shared between them instead of given whole to one.

The encoder halves the image three times (128 -> 64 -> 32 -> 16 pixels) while doubling the
number of filters, so the deepest layers see the whole blend; the decoder brings the
resolution back and, through the skip connections, recovers the sharp structure of the
encoder. Inputs: the blend stretched by arcsinh in units of the sky noise (linear near the
sky, logarithmic in the cores), and the distance to the stamp centre (where the central
galaxy is).

Training (``fit``) follows the recipe of a deblending network:
- the loss is the challenge's own: the relative flux error of each galaxy (the official
  score) plus its normalised image residual, computed on the predicted images (fractions
  times the noisy blend), so that the network also learns to leave pure noise out. Next to
  it, every pixel's fractions are pulled towards the true shares C / (C + K + s), with s a
  hundredth of the sky noise: where the galaxies are faint, the flux error's gradient has the
  sign of the noise, and only this term tells the network whose light a pixel holds. A last
  term counts, pixel by pixel, the light of the noiseless blend given to the wrong galaxy:
  where both galaxies are bright, it weighs each pixel by the light at stake;
- every training blend is used, each epoch in a new order, each blend flipped and rotated
  by one of the 8 symmetries of the square (the sky has no preferred orientation);
- the network trains on 64 x 64 crops taken at a random place of each stamp: a step costs 4
  times less, so it sees many more blends in the same time. The distance input is still
  measured from the stamp's centre, and each crop's errors are divided by the whole
  galaxies' flux, so a crop adds its share of the stamp's scores. Being convolutional, the
  network then deblends whole stamps. (Epochs on whole stamps after the crops, at a low
  learning rate, made the validation score worse, not better: docs/baselines.md);
- the learning rate follows half a cosine over the epochs, from 1e-3 to 1e-5: large steps
  while the network learns, small ones to settle. It depends on the epoch, not on the
  clock, so that a run is the same on the server as in ``ramp-test``; a time budget only
  stops the training early;
- a tenth of the training blends is held out for validation, always on whole stamps: the
  weights of the epoch with the best challenge's part of the validation loss are kept.

Two recipes, chosen by the environment variable ``DEBLEND_RECIPE``, else by
``DEFAULT_RECIPE`` below (the server runs a submission without your environment variables):
- ``full``: 32-64-128-256 filters, 100 epochs (about 70 minutes on 2 CPU cores with
  bfloat16 units), predictions averaged over the 8 symmetries.
  Meant for a GPU or a long CPU run: set ``DEFAULT_RECIPE = "full"`` in the copy you submit
  to a GPU event.
- ``short`` (default): 16-32-64-128 filters, 60 epochs (about 20 minutes on 2 CPU cores
  with bfloat16 units), stopped early if they would take more than 25 minutes; no
  averaging.

Overrides: DEBLEND_EPOCHS, DEBLEND_MAX_SAMPLES (use the first N training blends; 0: all),
DEBLEND_BATCH_SIZE, DEBLEND_TRAIN_MINUTES (a training time budget), DEBLEND_PRECISION
(default ``auto``: ``mixed_bfloat16`` where Keras sees a GPU or the CPU has bfloat16 units,
Intel AMX or AVX512-BF16, else ``float32``; or name one of them). On 2 CPU cores, the short
recipe's epochs took 21 s in ``mixed_bfloat16`` against 25 s in ``float32`` (medians, Intel
with AMX), and 17 to 22 s against 28 to 39 s (AMD EPYC with AVX512-BF16).
``ramp-test --quick-test`` sets RAMP_TEST_MODE: one epoch.

Only ``keras.*`` APIs are used (``keras.ops`` for the maths): the same file runs on the
TensorFlow, JAX or PyTorch backend (``KERAS_BACKEND=torch``) and on a GPU unchanged.
"""

import os
import time

import keras
import numpy as np
from keras import layers, ops

SEED = 2019
DEFAULT_RECIPE = "short"
RECIPES = {
    "full": {
        "filters": (32, 64, 128, 256),
        "train_crop": 64,
        "epochs": 100,
        "train_minutes": None,
        "symmetries_at_prediction": 8,
    },
    "short": {
        "filters": (16, 32, 64, 128),
        "train_crop": 64,
        "epochs": 60,
        "train_minutes": 25.0,
        "symmetries_at_prediction": 1,
    },
}
# Dtype policies of the hidden layers: mixed precision pays on GPUs and on CPUs with
# bfloat16 units, and is slower elsewhere (emulated): "auto" picks by the hardware.
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# The Linux /proc/cpuinfo flags of those units (Intel AMX; AVX512-BF16 of Intel Cooper Lake
# and later, and AMD Zen 4).
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
LEARNING_RATE = 1e-3
FINAL_LEARNING_RATE = 1e-5
VALIDATION_FRACTION = 0.1
# Weight of the normalised image residual next to the relative flux error in the loss.
RESIDUAL_WEIGHT = 1.0
# Weight of the per-pixel fraction term (10 gave 12.97 %, 1 gave 14.67 %, in 25 minutes
# without the signal term: docs/baselines.md), and its sky level in units of the noise sigma.
# Applied to the noisy blend, the target shares score 1.4 % at 0.01 sigma, 1.6 % at 0 (all
# the noise kept) and 3.6 % at 0.1 sigma (faint outskirts given to nobody):
# docs/error_sources.py prints these.
FRACTION_WEIGHT = 10.0
SKY_SHARE = 0.01
# Weight of the signal term (light given to the wrong galaxy, pixel by pixel): the short
# recipe scored 11.51 % with 10 against 11.98 % with 1, on the same epochs, and 12.21 % with
# 10 once the per-pixel term dropped to 1 (docs/baselines.md).
SIGNAL_WEIGHT = 10.0
TINY = 1e-6  # keeps the relative errors finite for an empty stamp
PREDICT_CHUNK = 256  # blends predicted at a time
RADIUS_SCALE = 64.0  # px: the distance input is in units of half this contest's stamp


def settings():
    """The recipe's settings, with the environment's overrides."""
    name = os.environ.get("DEBLEND_RECIPE", DEFAULT_RECIPE)
    if name not in RECIPES:
        raise ValueError(f"DEBLEND_RECIPE should be one of {sorted(RECIPES)}, got {name!r}")
    recipe = dict(RECIPES[name], name=name)
    recipe["epochs"] = int(os.environ.get("DEBLEND_EPOCHS", recipe["epochs"]))
    recipe["max_samples"] = int(os.environ.get("DEBLEND_MAX_SAMPLES", 0)) or None
    recipe["batch_size"] = int(os.environ.get("DEBLEND_BATCH_SIZE", 32))
    recipe["precision"] = os.environ.get("DEBLEND_PRECISION", "auto")
    if recipe["precision"] not in PRECISIONS:
        raise ValueError(
            f"DEBLEND_PRECISION should be one of {PRECISIONS}, got {recipe['precision']!r}"
        )
    if recipe["precision"] == "auto":
        recipe["precision"] = "mixed_bfloat16" if has_bfloat16_units() else "float32"
    if "DEBLEND_TRAIN_MINUTES" in os.environ:
        recipe["train_minutes"] = float(os.environ["DEBLEND_TRAIN_MINUTES"])
    if os.environ.get("RAMP_TEST_MODE"):
        recipe["epochs"] = 1
    return recipe


def has_bfloat16_units(cpuinfo_path="/proc/cpuinfo"):
    """Whether this machine computes bfloat16 matrix products fast: a GPU that Keras sees,
    or a CPU with one of BFLOAT16_CPU_FLAGS (read from Linux's /proc/cpuinfo, absent
    elsewhere). Keras lists devices on the TensorFlow and JAX backends only: on PyTorch,
    name the precision."""
    try:
        devices = keras.distribution.list_devices()
    except AttributeError:  # a backend without Keras's distribution support
        devices = []
    if any(device.startswith("gpu") for device in devices):
        return True
    try:
        with open(cpuinfo_path) as cpuinfo:
            flags = set(cpuinfo.read().split())
    except OSError:
        return False
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def estimate_noise(blends, truth, chunk=500):
    """Sky noise rms: the spread of the blends once both noiseless galaxies are subtracted.

    Summed a few hundred blends at a time, in float64, so that no copy of the whole training
    set is made.
    """
    total, total_squares, count = 0.0, 0.0, 0
    for start in range(0, len(blends), chunk):
        residual = np.asarray(blends[start : start + chunk], np.float64) - np.asarray(
            truth[start : start + chunk], np.float64
        ).sum(axis=-1)
        total += residual.sum()
        total_squares += np.square(residual).sum()
        count += residual.size
    mean = total / count
    return float(np.sqrt(total_squares / count - mean**2))


def prepare_inputs(blends, noise_sigma, corners=None, stamp_side=None):
    """Network inputs (N, H, W, 2): stretched blend and distance to the stamp centre.

    For crops, ``corners`` (N, 2) gives the (row, column) where each crop starts in its stamp
    of side ``stamp_side``, so that the distance is still measured from the stamp's centre.
    """
    blends = np.asarray(blends, dtype=np.float32)
    stretched = np.arcsinh(blends / np.float32(noise_sigma)) / np.float32(3.0)
    height, width = blends.shape[1:]
    if corners is None:
        corners, stamp_side = np.zeros((len(blends), 2), np.float32), height
    centre = (stamp_side - 1) / 2
    rows = np.arange(height, dtype=np.float32)[None, :, None] + corners[:, 0, None, None]
    columns = np.arange(width, dtype=np.float32)[None, None, :] + corners[:, 1, None, None]
    radius = np.hypot(rows - centre, columns - centre) / np.float32(RADIUS_SCALE)
    return np.stack([stretched, radius], axis=-1).astype(np.float32)


def cut_crops(images, corners, side):
    """Squares of ``side`` px of (N, H, W, ...) images, starting at ``corners`` (N, 2)."""
    return np.stack(
        [
            image[row : row + side, column : column + side]
            for image, (row, column) in zip(images, corners, strict=True)
        ]
    )


def symmetry(images, index):
    """One of the 8 symmetries of the square (rotations by k x 90 degrees, then a flip) of
    (N, H, W, ...) images; ``inverse_symmetry`` undoes it."""
    turned = np.rot90(images, k=index % 4, axes=(1, 2))
    return turned[:, :, ::-1] if index >= 4 else turned


def inverse_symmetry(images, index):
    unflipped = images[:, :, ::-1] if index >= 4 else images
    return np.rot90(unflipped, k=-(index % 4), axes=(1, 2))


def whole_stamp_sums(y_true):
    """Each galaxy's flux and sum of squares over its whole stamp, (N, 2) each: carried in
    channels 3-6 of a crop's targets, summed over the image for a whole stamp."""
    if y_true.shape[-1] == 7:
        return y_true[:, 0, 0, 3:5], y_true[:, 0, 0, 5:7]
    truth = y_true[..., :2]
    return ops.sum(truth, axis=(1, 2)), ops.sum(ops.square(truth), axis=(1, 2))


def deblending_loss(y_true, y_pred):
    """Relative flux error plus normalised image residual of both galaxies, per blend.

    ``y_true`` packs the true central and companion images and the noisy blend (N, H, W, 3);
    ``y_pred`` holds the fractions (central, companion, neither). The predicted images are
    the fractions times the blend, exactly as ``predict`` makes them.

    For a crop of the stamp, ``y_true`` also carries each galaxy's flux and sum of squares
    over the whole stamp (channels 3-6, constant over the crop): the errors inside the crop
    are then divided by those, so that each crop adds its share of the whole stamp's scores
    and a galaxy barely inside a crop does not weigh like a whole one.
    """
    truth, blend = y_true[..., :2], y_true[..., 2:3]
    images = y_pred[..., :2] * blend
    true_flux = ops.sum(truth, axis=(1, 2))
    whole_flux, whole_power = whole_stamp_sums(y_true)
    flux_error = ops.abs(ops.sum(images, axis=(1, 2)) - true_flux) / ops.maximum(
        ops.abs(whole_flux), TINY
    )
    residual = ops.sum(ops.square(images - truth), axis=(1, 2)) / ops.maximum(whole_power, TINY)
    return ops.mean(flux_error + RESIDUAL_WEIGHT * residual, axis=-1)


def target_fractions(truth, sky_level):
    """Each pixel's true shares (central, companion, neither): C, K and a sky level s, each
    over C + K + s. Where both galaxies are far fainter than s the light is the sky's; where
    they shine, the shares are C / (C + K) and K / (C + K)."""
    light = ops.maximum(truth, 0.0)
    shares = ops.concatenate([light, ops.ones_like(light[..., :1]) * sky_level], axis=-1)
    return shares / ops.sum(shares, axis=-1, keepdims=True)


def fraction_loss(y_true, y_pred, sky_level):
    """Kullback-Leibler divergence of the predicted fractions from the true shares, the mean
    over pixels, per blend: 0 when they are equal."""
    target = target_fractions(y_true[..., :2], sky_level)
    divergence = target * (ops.log(target + TINY) - ops.log(y_pred + TINY))
    return ops.mean(ops.sum(divergence, axis=-1), axis=(1, 2))


def signal_loss(y_true, y_pred):
    """Light given to the wrong galaxy, pixel by pixel: the fractions times the noiseless
    blend against each true image, in absolute value, over the galaxy's whole flux, the mean
    of both galaxies, per blend. It bounds the flux error's signal part from above, and unlike
    the flux error it does not let errors of opposite signs cancel, so every bright pixel
    tells the network whose light it holds."""
    truth = y_true[..., :2]
    light = ops.sum(ops.maximum(truth, 0.0), axis=-1, keepdims=True)
    whole_flux, _ = whole_stamp_sums(y_true)
    error = ops.sum(ops.abs(y_pred[..., :2] * light - truth), axis=(1, 2))
    return ops.mean(error / ops.maximum(ops.abs(whole_flux), TINY), axis=-1)


class TrainingLoss(keras.losses.Loss):
    """The challenge's part (``deblending_loss``), the per-pixel fraction term and the
    signal term."""

    def __init__(self, sky_level, name="training_loss"):
        super().__init__(name=name)
        self.sky_level = sky_level

    def call(self, y_true, y_pred):
        fractions = fraction_loss(y_true, y_pred, self.sky_level)
        return (
            deblending_loss(y_true, y_pred)
            + FRACTION_WEIGHT * fractions
            + SIGNAL_WEIGHT * signal_loss(y_true, y_pred)
        )


class Blends(keras.utils.PyDataset):
    """Batches of (inputs, packed targets) of the blends ``rows``, reshuffled and randomly
    symmetrised each epoch when ``augment``; the arrays are indexed, never copied whole.

    With ``crop``, each blend is cut to a square of that side at a random place of its stamp:
    a step costs (stamp / crop)^2 times less, the network sees every part of the stamp over
    the epochs, and the loss gets the whole galaxies' fluxes to divide by.
    """

    def __init__(self, blends, truth, rows, noise_sigma, batch_size, augment, seed, crop=None):
        super().__init__()
        self.crop = crop
        self.blends, self.truth, self.rows = blends, truth, rows
        self.noise_sigma, self.batch_size, self.augment = noise_sigma, batch_size, augment
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(rows))
        self.on_epoch_end()

    def __len__(self):
        return int(np.ceil(len(self.rows) / self.batch_size))

    def on_epoch_end(self):
        if self.augment:
            self.rng.shuffle(self.order)
            self.symmetries = self.rng.integers(0, 8, size=len(self.rows))

    def __getitem__(self, batch):
        positions = np.sort(self.order[batch * self.batch_size : (batch + 1) * self.batch_size])
        rows = self.rows[positions]
        packed = np.concatenate([self.truth[rows], self.blends[rows][..., None]], axis=-1)
        if self.augment:
            packed = np.stack(
                [
                    symmetry(packed[i : i + 1], k)[0]
                    for i, k in enumerate(self.symmetries[positions])
                ]
            )
        if self.crop is None:
            return prepare_inputs(packed[..., 2], self.noise_sigma), np.ascontiguousarray(packed)
        side = packed.shape[1]
        whole = np.concatenate(
            [
                packed[..., :2].sum(axis=(1, 2), dtype=np.float64),
                np.square(packed[..., :2], dtype=np.float64).sum(axis=(1, 2)),
            ],
            axis=-1,
        ).astype(np.float32)
        corners = self.rng.integers(0, side - self.crop + 1, size=(len(rows), 2))
        crops = cut_crops(packed, corners, self.crop)
        whole = np.broadcast_to(whole[:, None, None, :], crops.shape[:3] + (4,))
        inputs = prepare_inputs(crops[..., 2], self.noise_sigma, corners.astype(np.float32), side)
        return inputs, np.ascontiguousarray(np.concatenate([crops, whole], axis=-1))


def cosine_schedule(epochs):
    """The learning rate along half a cosine over ``epochs``, from LEARNING_RATE at the first
    to FINAL_LEARNING_RATE at the last, set at each epoch's start.

    It depends on the epoch alone, never on the clock: the same data and settings make the
    same network, on the server as in ``ramp-test``, and a slow machine that runs out of time
    has run the same epochs as a fast one, fewer of them.
    """

    def learning_rate(epoch, current=None):
        cosine = 0.5 * (1 + np.cos(np.pi * epoch / max(1, epochs - 1)))
        return float(FINAL_LEARNING_RATE + (LEARNING_RATE - FINAL_LEARNING_RATE) * cosine)

    return keras.callbacks.LearningRateScheduler(learning_rate)


class KeepBest(keras.callbacks.Callback):
    """Keep the weights of the best validation epoch, and stop before an epoch that would
    end after ``deadline`` (``time.monotonic()``)."""

    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor
        self.best, self.best_weights = np.inf, None
        self.deadline = None

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        loss = float((logs or {}).get(self.monitor, np.inf))
        if loss < self.best:
            self.best, self.best_weights = loss, self.model.get_weights()
        now = time.monotonic()
        per_epoch = (now - self.start) / (epoch + 1)
        if self.deadline is not None and now + per_epoch > self.deadline:
            print(f"unet: stopping after epoch {epoch + 1} (time budget)", flush=True)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            print(f"unet: kept the weights of {self.monitor} {self.best:.4f}", flush=True)


def conv_block(x, filters, dtype):
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU."""
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype)(x)
        x = layers.BatchNormalization(momentum=0.9, dtype=dtype)(x)
        x = layers.Activation("relu", dtype=dtype)(x)
    return x


def build_model(filters, precision="float32"):
    """U-Net for images whose sides are multiples of 2 ** (len(filters) - 1).

    ``precision``: a Keras dtype policy for the hidden layers, e.g. "mixed_bfloat16" (twice
    as fast on hardware with bfloat16 units); the fractions are always computed in float32.
    """
    inputs = keras.Input(shape=(None, None, 2))
    x = inputs
    skips = []
    for n_filters in filters[:-1]:
        x = conv_block(x, n_filters, precision)
        skips.append(x)
        x = layers.MaxPooling2D(2, dtype=precision)(x)
    x = conv_block(x, filters[-1], precision)
    for n_filters, skip in zip(reversed(filters[:-1]), reversed(skips), strict=True):
        x = layers.Conv2DTranspose(n_filters, 2, strides=2, padding="same", dtype=precision)(x)
        x = layers.Concatenate(dtype=precision)([x, skip])
        x = conv_block(x, n_filters, precision)
    # Fractions of the light: central, companion, neither (sky noise).
    outputs = layers.Conv2D(3, 1, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="unet")


class Deblender:
    def __init__(self):
        self.model = None
        self.noise_sigma = None
        self.symmetries_at_prediction = 1

    def fit(self, blends, truth):
        recipe = settings()
        keras.utils.set_random_seed(SEED)  # same weights, order and symmetries on every run
        # The workflow hands native float32 arrays: no copy here.
        blends = np.asarray(blends[: recipe["max_samples"]], dtype=np.float32)
        truth = np.asarray(truth[: recipe["max_samples"]], dtype=np.float32)
        self.noise_sigma = estimate_noise(blends, truth)
        self.symmetries_at_prediction = recipe["symmetries_at_prediction"]

        order = np.random.default_rng(SEED).permutation(len(blends))
        n_valid = max(1, int(round(VALIDATION_FRACTION * len(blends))))
        train, valid = np.sort(order[n_valid:]), np.sort(order[:n_valid])
        batch_size = recipe["batch_size"]
        crop = recipe["train_crop"]
        if crop is not None and crop >= blends.shape[1]:  # stamps no larger than a crop
            crop = None
        # Training on crops, validation on whole stamps: the score the leaderboard shows.
        train_set = Blends(blends, truth, train, self.noise_sigma, batch_size, True, SEED, crop)
        valid_set = Blends(blends, truth, valid, self.noise_sigma, batch_size, False, SEED)

        self.model = build_model(recipe["filters"], recipe["precision"])
        self.model.compile(
            optimizer=keras.optimizers.Adam(LEARNING_RATE),
            loss=TrainingLoss(SKY_SHARE * self.noise_sigma),
            metrics=[deblending_loss],  # what the checkpoints follow
        )
        keep_best = KeepBest("val_deblending_loss")
        if recipe["train_minutes"] is not None:
            keep_best.deadline = time.monotonic() + 60 * recipe["train_minutes"]
        print(
            f"unet ({recipe['name']} recipe): training on {len(train)} blends "
            f"({crop or blends.shape[1]}-pixel crops), validating on {len(valid)} whole "
            f"stamps, for at most {recipe['epochs']} epoch(s), {recipe['precision']}",
            flush=True,
        )
        # verbose=2: one line per epoch, readable in a log file
        self.model.fit(
            train_set,
            validation_data=valid_set,
            epochs=recipe["epochs"],
            callbacks=[cosine_schedule(recipe["epochs"]), keep_best],
            verbose=2,
        )
        return self

    def predict(self, blends):
        blends = np.asarray(blends, dtype=np.float32)
        images = np.empty(blends.shape + (2,), dtype=np.float32)
        # A few hundred blends at a time: the memory of the inputs and fractions stays small.
        for start in range(0, len(blends), PREDICT_CHUNK):
            chunk = blends[start : start + PREDICT_CHUNK]
            inputs = prepare_inputs(chunk, self.noise_sigma)
            fractions = np.zeros(chunk.shape + (3,), dtype=np.float32)
            # Average over the symmetries of the square: each one sees the blend anew.
            for index in range(self.symmetries_at_prediction):
                seen = np.ascontiguousarray(symmetry(inputs, index))
                predicted = self.model.predict(seen, batch_size=64, verbose=0)
                fractions += inverse_symmetry(np.asarray(predicted, dtype=np.float32), index)
            fractions /= self.symmetries_at_prediction
            images[start : start + len(chunk)] = fractions[..., :2] * chunk[..., None]
        return images
