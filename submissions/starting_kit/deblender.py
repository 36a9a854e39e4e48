"""Classical baseline: SExtractor-style detection and segmentation with ``sep``.

No machine learning here: ``sep`` (SExtractor as a Python library) finds the sources above a
threshold in units of the sky noise, splits touching sources with its multi-threshold deblender
and returns a segmentation map (each pixel labelled with the object it belongs to). We call the
detection nearest the stamp centre the *central* galaxy and the next nearest its *companion*.

The settings are the published "cold" and "hot" modes used for deep HST surveys: cold mode keeps
large galaxies in one piece; if it finds fewer than two objects, hot mode (lower threshold, more
aggressive splitting) is tried to recover the faint or tightly blended companion.
"""

import numpy as np
import sep

# (minarea [pixels], threshold [sigma], deblend contrast): cold mode, then hot mode.
COLD = {"minarea": 10, "thresh": 5.0, "deblend_cont": 0.01}
HOT = {"minarea": 6, "thresh": 4.0, "deblend_cont": 1e-4}
DEBLEND_NTHRESH = 64


class Deblender:
    def __init__(self):
        # Sky noise rms per pixel; learnt in fit(), else estimated per image by sep.Background.
        self.noise_sigma = None

    def fit(self, blends, truth):
        """Measure the sky noise: a blend minus its two noiseless galaxies."""
        blends = np.asarray(blends, dtype=np.float64)
        residual = blends - np.asarray(truth, dtype=np.float64).sum(axis=-1)
        self.noise_sigma = float(residual.std())
        return self

    def predict(self, blends):
        """Masks (N, 128, 128, 2) as 0/1 probabilities: central galaxy, then companion."""
        blends = np.asarray(blends)
        proba = np.zeros(blends.shape + (2,), dtype=np.float32)
        for i, image in enumerate(blends):
            proba[i] = self._segment(image)
        return proba

    def _segment(self, image):
        # sep is a C library: it needs a native-endian, C-contiguous array (FITS files are
        # big-endian, and astropy memory-maps them as such).
        data = np.ascontiguousarray(image, dtype=np.float64)
        if self.noise_sigma is None:
            background = sep.Background(data)
            data = data - background.back()
            noise = background.globalrms
        else:
            noise = self.noise_sigma  # the simulated sky is already subtracted

        objects, segmap = self._extract(data, noise, COLD)
        if len(objects) < 2:
            objects, segmap = self._extract(data, noise, HOT)

        masks = np.zeros(image.shape + (2,), dtype=np.float32)
        if len(objects) == 0:
            return masks
        centre_y, centre_x = (np.array(image.shape) - 1) / 2
        distance = np.hypot(objects["x"] - centre_x, objects["y"] - centre_y)
        # Segmentation labels are 1 + the object's index in `objects`.
        for channel, index in enumerate(np.argsort(distance)[:2]):
            masks[..., channel] = segmap == index + 1
        return masks

    @staticmethod
    def _extract(data, noise, mode):
        return sep.extract(
            data,
            mode["thresh"],
            err=noise,
            minarea=mode["minarea"],
            deblend_nthresh=DEBLEND_NTHRESH,
            deblend_cont=mode["deblend_cont"],
            segmentation_map=True,
        )
