"""A small fully-convolutional network (the 2019 deblending lab's model), in Keras.

Six 3x3 convolutions of 16 filters with ReLU, 'same' padding so the output keeps the 128x128
size, then a 1x1 convolution with a sigmoid: for each pixel, the probability that it belongs to
the central galaxy (channel 0) and to its companion (channel 1). Trained with binary
cross-entropy on the true masks (noiseless image above 1 sigma of the sky noise).

Six 3x3 layers see only 13x13 pixels around each output pixel, too little to tell on their own
which galaxy sits in the middle of the stamp, so a second input channel gives each pixel its
distance to the stamp centre.

Environment variables: DEBLEND_EPOCHS (default 5), DEBLEND_MAX_SAMPLES (default 4000),
DEBLEND_BATCH_SIZE (default 32). ``ramp-test --quick-test`` sets RAMP_TEST_MODE: one epoch.
"""

import os

import keras
import numpy as np

# True masks are the pixels where a noiseless galaxy exceeds 1 sigma of the sky noise:
# ramp_kit.constants.MASK_THRESHOLD, in e-/s.
MASK_THRESHOLD = 0.003
SEED = 2019


def _settings():
    quick = bool(os.environ.get("RAMP_TEST_MODE"))
    epochs = 1 if quick else int(os.environ.get("DEBLEND_EPOCHS", 5))
    max_samples = int(os.environ.get("DEBLEND_MAX_SAMPLES", 4000)) or None
    batch_size = int(os.environ.get("DEBLEND_BATCH_SIZE", 32))
    return epochs, max_samples, batch_size


def estimate_noise(blends, truth):
    """Sky noise rms: the spread of a blend once both noiseless galaxies are subtracted."""
    return float(
        (np.asarray(blends, np.float64) - np.asarray(truth, np.float64).sum(axis=-1)).std()
    )


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


def build_model(n_layers=6, n_filters=16):
    inputs = keras.Input(shape=(None, None, 2))
    x = inputs
    for _ in range(n_layers):
        x = keras.layers.Conv2D(n_filters, 3, padding="same", activation="relu")(x)
    outputs = keras.layers.Conv2D(2, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="fcnn")


class Deblender:
    def __init__(self):
        self.model = None
        self.noise_sigma = None

    def fit(self, blends, truth):
        epochs, max_samples, batch_size = _settings()
        keras.utils.set_random_seed(SEED)  # same weights and batches on every run
        blends, truth = blends[:max_samples], truth[:max_samples]
        self.noise_sigma = estimate_noise(blends, truth)
        inputs = prepare_inputs(blends, self.noise_sigma)
        masks = (np.asarray(truth, dtype=np.float32) > MASK_THRESHOLD).astype(np.float32)

        self.model = build_model()
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        print(f"fcnn: training on {len(inputs)} blends for {epochs} epoch(s)", flush=True)
        # verbose=2: one line per epoch, readable in a log file
        self.model.fit(inputs, masks, epochs=epochs, batch_size=batch_size, verbose=2)
        return self

    def predict(self, blends):
        inputs = prepare_inputs(blends, self.noise_sigma)
        return self.model.predict(inputs, batch_size=64, verbose=0).astype(np.float32)
