"""A U-Net that segments the central galaxy and its companion, in Keras 3.

The encoder halves the image three times (128 -> 64 -> 32 -> 16 pixels) while doubling the
number of filters (16 -> 32 -> 64 -> 128), so the deepest layers see the whole blend; the
decoder brings the resolution back and, through the skip connections, recovers the sharp
galaxy edges from the encoder. The output has one sigmoid channel per galaxy, so a pixel may
belong to both galaxies where they overlap. The central galaxy is taught to leave out the pixels
its companion dominates, where its flux would be mostly companion light (``training_masks``).

Only ``keras.*`` APIs are used (``keras.ops`` for the maths): the same file runs on the
TensorFlow, JAX or PyTorch backend (``KERAS_BACKEND=torch``) and on a GPU unchanged.

Environment variables: DEBLEND_EPOCHS (default 6), DEBLEND_MAX_SAMPLES (default 4000),
DEBLEND_BATCH_SIZE (default 32). ``ramp-test --quick-test`` sets RAMP_TEST_MODE: one epoch.
"""

import os

import keras
import numpy as np
from keras import layers, ops

# True masks are the pixels where a noiseless galaxy exceeds 1 sigma of the sky noise:
# ramp_kit.constants.MASK_THRESHOLD, in e-/s.
MASK_THRESHOLD = 0.003
# The central target leaves out pixels where the companion is over twice as bright.
COMPANION_DOMINANCE = 2.0
FILTERS = (16, 32, 64, 128)
SEED = 2019


def _settings():
    quick = bool(os.environ.get("RAMP_TEST_MODE"))
    epochs = 1 if quick else int(os.environ.get("DEBLEND_EPOCHS", 6))
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
    and bright nuclei both land in a range of a few units. The distance channel tells the
    network where the stamp centre (the central galaxy) is.
    """
    blends = np.asarray(blends, dtype=np.float32)
    stretched = np.arcsinh(blends / np.float32(noise_sigma)) / np.float32(3.0)
    height, width = blends.shape[1:]
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    radius = np.hypot(yy - (height - 1) / 2, xx - (width - 1) / 2) / (height / 2)
    radius = np.broadcast_to(radius, blends.shape)
    return np.stack([stretched, radius], axis=-1).astype(np.float32)


def training_masks(truth):
    """Target masks (N, H, W, 2): each galaxy above 1 sigma, the central one where it counts.

    The central mask is where the central galaxy's flux is measured: a pixel where the
    companion is more than COMPANION_DOMINANCE times brighter would mostly add companion light.
    Leaving such pixels out of the central target costs a little central IoU but divides the
    flux error by several (even the exact 1-sigma masks score about 60 % in flux error, since
    they take in the companion's core whenever the two isophotes overlap it).
    """
    central, companion = truth[..., 0], truth[..., 1]
    masks = truth > MASK_THRESHOLD
    masks[..., 0] &= central * COMPANION_DOMINANCE >= companion
    return masks.astype(np.float32)


def dice_loss(y_true, y_pred, smooth=1.0):
    """1 - soft Dice coefficient per image and galaxy, averaged.

    Unlike the per-pixel cross-entropy, Dice weighs a small companion as much as a large
    central galaxy and directly rewards overlap between predicted and true masks (like IoU).
    """
    intersection = ops.sum(y_true * y_pred, axis=(1, 2))
    total = ops.sum(y_true, axis=(1, 2)) + ops.sum(y_pred, axis=(1, 2))
    return 1.0 - ops.mean((2.0 * intersection + smooth) / (total + smooth))


def bce_dice_loss(y_true, y_pred):
    bce = ops.mean(keras.losses.binary_crossentropy(y_true, y_pred))
    return bce + dice_loss(y_true, y_pred)


def conv_block(x, filters):
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU."""
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
    return x


def build_model(filters=FILTERS):
    """U-Net for images whose sides are multiples of 2 ** (len(filters) - 1)."""
    inputs = keras.Input(shape=(None, None, 2))
    x = inputs
    skips = []
    for n_filters in filters[:-1]:
        x = conv_block(x, n_filters)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = conv_block(x, filters[-1])
    for n_filters, skip in zip(reversed(filters[:-1]), reversed(skips), strict=True):
        x = layers.Conv2DTranspose(n_filters, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([x, skip])
        x = conv_block(x, n_filters)
    outputs = layers.Conv2D(2, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="unet")


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
        masks = training_masks(np.asarray(truth, dtype=np.float32))

        steps = epochs * int(np.ceil(len(inputs) / batch_size))
        # Cosine decay: large steps first, fine-tuning at the end, no schedule to tune.
        learning_rate = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)
        self.model = build_model()
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=bce_dice_loss)
        print(f"unet: training on {len(inputs)} blends for {epochs} epoch(s)", flush=True)
        # verbose=2: one line per epoch, readable in a log file
        self.model.fit(inputs, masks, epochs=epochs, batch_size=batch_size, verbose=2)
        return self

    def predict(self, blends):
        inputs = prepare_inputs(blends, self.noise_sigma)
        return np.asarray(self.model.predict(inputs, batch_size=64, verbose=0), dtype=np.float32)
