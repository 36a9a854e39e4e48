"""The 2019 deblending lab's small fully-convolutional network, adapted to deblended images.

Six 3x3 convolutions of 16 filters with ReLU, 'same' padding so the output keeps the 128x128
size, then a 1x1 convolution with a softmax over three channels: for each pixel, the fraction
of the blend's light that belongs to the central galaxy, to its companion and to neither
(sky noise). The deblended images are these fractions times the blend, so light is
conserved by construction. The lab's network output masks through a sigmoid; the softmax
and the loss below are the only changes.

The loss is the challenge's own: the relative flux error of each galaxy (the official score)
plus its normalised image residual, on the predicted images.

Six 3x3 layers see only 13x13 pixels around each output pixel, too little to tell on their own
which galaxy sits in the middle of the stamp, so a second input channel gives each pixel its
distance to the stamp centre.

Environment variables: DEBLEND_EPOCHS (default 5), DEBLEND_MAX_SAMPLES (default 4000; 0: all),
DEBLEND_BATCH_SIZE (default 32). ``ramp-test --quick-test`` sets RAMP_TEST_MODE: one epoch.
"""

import os

import keras
import numpy as np
from keras import ops

SEED = 2019
RESIDUAL_WEIGHT = 1.0  # of the normalised image residual next to the relative flux error
TINY = 1e-6  # keeps the relative errors finite for an empty stamp
PREDICT_CHUNK = 256  # blends predicted at a time


def settings():
    quick = bool(os.environ.get("RAMP_TEST_MODE"))
    epochs = 1 if quick else int(os.environ.get("DEBLEND_EPOCHS", 5))
    max_samples = int(os.environ.get("DEBLEND_MAX_SAMPLES", 4000)) or None
    batch_size = int(os.environ.get("DEBLEND_BATCH_SIZE", 32))
    return epochs, max_samples, batch_size


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


def prepare_inputs(blends, noise_sigma):
    """Network inputs (N, H, W, 2): stretched image and distance to the stamp centre.

    Galaxy profiles span orders of magnitude in brightness: an arcsinh stretch in units of the
    noise is linear near the sky level and logarithmic in the bright cores, so faint outskirts
    and bright nuclei both land in a range of a few units.
    """
    blends = np.asarray(blends, dtype=np.float32)
    stretched = np.arcsinh(blends / np.float32(noise_sigma)) / np.float32(3.0)
    height, width = blends.shape[1:]
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    radius = np.hypot(yy - (height - 1) / 2, xx - (width - 1) / 2) / (height / 2)
    radius = np.broadcast_to(radius, blends.shape)
    return np.stack([stretched, radius], axis=-1).astype(np.float32)


def deblending_loss(y_true, y_pred):
    """Relative flux error plus normalised image residual of both galaxies, per blend.

    ``y_true`` packs the true central and companion images and the noisy blend (N, H, W, 3);
    ``y_pred`` holds the fractions (central, companion, neither).
    """
    truth, blend = y_true[..., :2], y_true[..., 2:]
    images = y_pred[..., :2] * blend
    true_flux = ops.sum(truth, axis=(1, 2))
    flux_error = ops.abs(ops.sum(images, axis=(1, 2)) - true_flux) / ops.maximum(
        ops.abs(true_flux), TINY
    )
    residual = ops.sum(ops.square(images - truth), axis=(1, 2)) / ops.maximum(
        ops.sum(ops.square(truth), axis=(1, 2)), TINY
    )
    return ops.mean(flux_error + RESIDUAL_WEIGHT * residual, axis=-1)


def build_model(n_layers=6, n_filters=16):
    inputs = keras.Input(shape=(None, None, 2))
    x = inputs
    for _ in range(n_layers):
        x = keras.layers.Conv2D(n_filters, 3, padding="same", activation="relu")(x)
    outputs = keras.layers.Conv2D(3, 1, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="fcnn")


class Deblender:
    def __init__(self):
        self.model = None
        self.noise_sigma = None

    def fit(self, blends, truth):
        epochs, max_samples, batch_size = settings()
        keras.utils.set_random_seed(SEED)  # same weights and batches on every run
        blends = np.asarray(blends[:max_samples], dtype=np.float32)
        truth = np.asarray(truth[:max_samples], dtype=np.float32)
        self.noise_sigma = estimate_noise(blends, truth)
        inputs = prepare_inputs(blends, self.noise_sigma)
        targets = np.concatenate([truth, blends[..., None]], axis=-1)

        self.model = build_model()
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=deblending_loss)
        print(f"fcnn: training on {len(inputs)} blends for {epochs} epoch(s)", flush=True)
        # verbose=2: one line per epoch, readable in a log file
        self.model.fit(inputs, targets, epochs=epochs, batch_size=batch_size, verbose=2)
        return self

    def predict(self, blends):
        blends = np.asarray(blends, dtype=np.float32)
        images = np.empty(blends.shape + (2,), dtype=np.float32)
        # A few hundred blends at a time: the memory of the inputs and fractions stays small.
        for start in range(0, len(blends), PREDICT_CHUNK):
            chunk = blends[start : start + PREDICT_CHUNK]
            inputs = prepare_inputs(chunk, self.noise_sigma)
            fractions = self.model.predict(inputs, batch_size=64, verbose=0)
            images[start : start + len(chunk)] = (
                np.asarray(fractions, dtype=np.float32)[..., :2] * chunk[..., None]
            )
        return images
