"""Image predictions for ramp-workflow: (N, 128, 128, 2) deblended images per blend.

ramp-workflow's ``BasePrediction`` handles 1-D and 2-D arrays only; this class keeps its
contract (constructors, CV slices, NaN-marked missing images, ``combine``) for stacks of
images. Channel 0 is the central galaxy's deblended image, channel 1 its companion's, in
e-/s. Ground truth (``y_true``) is stored as given: the noiseless truth images, of the same
shape. A submission's predictions are checked once, when they leave it
(``ramp_kit.workflow.check_prediction``); the check here only guards the container's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rampwf.prediction_types.base import BasePrediction

from ramp_kit.constants import IMAGE_SHAPE

# Images combined per step: bounds the temporaries of ``combine`` to a few MiB.
COMBINE_CHUNK = 64


class Predictions(BasePrediction):
    """Deblended (central, companion) images of N blends, shape (N, 128, 128, 2), e-/s.

    Build it from exactly one of ``y_pred`` (predictions), ``y_true`` (truth images) or
    ``n_samples`` (an empty, NaN-filled container for combining folds); ``fold_is`` keeps
    only those rows of ``y_pred`` or ``y_true``.
    """

    image_shape = IMAGE_SHAPE

    def __init__(
        self,
        y_pred: np.ndarray | None = None,
        y_true: np.ndarray | None = None,
        n_samples: int | None = None,
        fold_is: np.ndarray | slice | None = None,
    ) -> None:
        if y_pred is not None:
            rows = y_pred if fold_is is None else y_pred[fold_is]
            self.y_pred = np.asarray(rows, dtype=np.float32)
        elif y_true is not None:
            # Kept as given (possibly a memory-mapped, big-endian FITS view): no pixel is
            # read until a score needs it.
            self.y_pred = y_true if fold_is is None else y_true[fold_is]
        elif n_samples is not None:
            self.y_pred = np.full((n_samples, *self.image_shape), np.nan, dtype=np.float32)
        else:
            raise ValueError("Missing init argument: give y_pred, y_true or n_samples")
        self.check_y_pred_dimensions()

    def __str__(self) -> str:
        return f"Predictions of {len(self.y_pred)} images of shape {self.image_shape}"

    @property
    def valid_indexes(self) -> np.ndarray:
        """Images predicted by at least one fold; missing images are NaN everywhere."""
        # A fold fills whole images, so the first pixel tells whether an image is missing.
        return ~np.isnan(self.y_pred[:, 0, 0, 0])

    def set_valid_in_train(self, predictions: Predictions, test_is: np.ndarray) -> None:
        """Write the predictions of a validation fold into their rows."""
        self.y_pred[test_is] = predictions.y_pred

    def set_slice(self, valid_indexes: np.ndarray | slice) -> None:
        """Keep only the given images, so that scores need no mask."""
        self.y_pred = self.y_pred[valid_indexes]

    def check_y_pred_dimensions(self) -> None:
        shape = np.shape(self.y_pred)
        if len(shape) != 4 or tuple(shape[1:]) != self.image_shape:
            raise ValueError(
                f"Wrong y_pred dimensions: expected (N, {', '.join(map(str, self.image_shape))})"
                f" (central and companion images of each blend), got {shape}"
            )

    @classmethod
    def combine(
        cls, predictions_list: Sequence[Predictions], index_list: Sequence[int] | None = None
    ) -> Predictions:
        """NaN-aware mean of ``predictions_list[index_list]`` (all of them when None).

        Accumulated in place in float32, a few images at a time, with a per-pixel count of
        the predictions seen: memory stays at one prediction array plus a uint16 count,
        whatever the number of folds. Pixels no prediction covers stay NaN.
        """
        if index_list is None:
            index_list = range(len(predictions_list))
        selected = [predictions_list[i] for i in index_list]
        if not selected:
            raise ValueError("combine needs at least one Predictions, got an empty list")
        n_images = len(selected[0].y_pred)
        total = np.zeros((n_images, *cls.image_shape), dtype=np.float32)
        counts = np.zeros(total.shape, dtype=np.uint16)
        for start in range(0, n_images, COMBINE_CHUNK):
            stop = min(start + COMBINE_CHUNK, n_images)
            total_chunk, count_chunk = total[start:stop], counts[start:stop]
            for predictions in selected:
                chunk = predictions.y_pred[start:stop]
                seen = ~np.isnan(chunk)
                np.add(total_chunk, chunk, out=total_chunk, where=seen)
                count_chunk += seen
            np.divide(total_chunk, count_chunk, out=total_chunk, where=count_chunk > 0)
            total_chunk[count_chunk == 0] = np.nan
        return cls(y_pred=total)
