"""The deblender workflow: plain-Python submissions, native arrays, checked predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ramp_kit.workflow import DeblenderWorkflow, check_prediction

RECORDING_DEBLENDER = """
from pathlib import Path

import numpy as np
from helper_scale import SCALE

SCALE_FILE = Path(__file__).parent / "scale.txt"


class Deblender:
    def fit(self, X, y):
        self.seen = (X.dtype.str, X.dtype.isnative, X.shape, y.shape, X[:, 0, 0].tolist())
        self.scale = float(open(SCALE_FILE).read()) * SCALE

    def predict(self, X):
        return np.full((len(X), 128, 128, 2), self.scale, dtype=np.float64)
"""


def write_submission(folder: Path, source: str, scale: str = "0.25") -> Path:
    folder.mkdir(parents=True)
    (folder / "deblender.py").write_text(source)
    (folder / "scale.txt").write_text(scale)
    (folder / "helper_scale.py").write_text("SCALE = 2.0\n")
    return folder


def big_endian_split(n_images: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.arange(n_images, dtype=">f4")[:, None, None] * np.ones((128, 128), ">f4")  # noqa: N806
    y = np.zeros((n_images, 2, 128, 128), dtype=">f4").transpose(0, 2, 3, 1)
    return X, y


def images(n_images: int = 2, value: float = 0.01) -> np.ndarray:
    return np.full((n_images, 128, 128, 2), value, dtype=np.float32)


def test_workflow_trains_on_native_float32_rows(tmp_path: Path) -> None:
    submission = write_submission(tmp_path / "sub", RECORDING_DEBLENDER)
    X, y = big_endian_split(5)  # noqa: N806
    model = DeblenderWorkflow().train_submission(str(submission), X, y, train_is=[4, 1])
    dtype, is_native, x_shape, y_shape, first_pixels = model.deblender.seen
    assert (dtype[1:], is_native) == ("f4", True)
    assert (x_shape, y_shape) == ((2, 128, 128), (2, 128, 128, 2))
    assert first_pixels == [4.0, 1.0]


def test_workflow_submission_reads_its_files_and_helpers(tmp_path: Path) -> None:
    submission = write_submission(tmp_path / "sub", RECORDING_DEBLENDER, scale="0.2")
    X, y = big_endian_split(3)  # noqa: N806
    workflow = DeblenderWorkflow()
    model = workflow.train_submission(str(submission), X, y)
    y_pred = workflow.test_submission(model, X)
    assert y_pred.shape == (3, 128, 128, 2)
    assert y_pred.dtype == np.float32
    assert np.allclose(y_pred, 0.4)  # 0.2 read from scale.txt x 2.0 from helper_scale.py


def test_workflow_accepts_images_brighter_than_one(tmp_path: Path) -> None:
    # Images in e-/s: galaxy cores are far above 1.
    submission = write_submission(tmp_path / "sub", RECORDING_DEBLENDER, scale="25")
    X, y = big_endian_split(2)  # noqa: N806
    workflow = DeblenderWorkflow()
    y_pred = workflow.test_submission(workflow.train_submission(str(submission), X, y), X)
    assert np.allclose(y_pred, 50.0)


def test_workflow_refuses_wrong_prediction_shape(tmp_path: Path) -> None:
    source = RECORDING_DEBLENDER.replace("(len(X), 128, 128, 2)", "(len(X), 128, 128)")
    submission = write_submission(tmp_path / "sub", source)
    X, y = big_endian_split(2)  # noqa: N806
    workflow = DeblenderWorkflow()
    model = workflow.train_submission(str(submission), X, y)
    with pytest.raises(ValueError, match=r"shape \(2, 128, 128, 2\).*got \(2, 128, 128\)"):
        workflow.test_submission(model, X)


def test_workflow_refuses_nan_predictions(tmp_path: Path) -> None:
    submission = write_submission(tmp_path / "sub", RECORDING_DEBLENDER, scale="nan")
    X, y = big_endian_split(2)  # noqa: N806
    workflow = DeblenderWorkflow()
    model = workflow.train_submission(str(submission), X, y)
    with pytest.raises(ValueError, match="finite values, got 65536 NaN or infinite pixels"):
        workflow.test_submission(model, X)


def test_workflow_missing_deblender_class_is_named(tmp_path: Path) -> None:
    submission = write_submission(tmp_path / "sub", "class Model:\n    pass\n")
    X, y = big_endian_split(2)  # noqa: N806
    with pytest.raises(AttributeError, match="should define a class Deblender"):
        DeblenderWorkflow().train_submission(str(submission), X, y)


def test_check_prediction_names_the_first_blend_with_an_infinity() -> None:
    y_pred = images(3)
    y_pred[1, 5, 5, 0] = np.inf
    y_pred[2, 0, 0, 1] = -np.inf
    with pytest.raises(ValueError, match=r"2 NaN or infinite pixels in 2 blends.*blend 1.*"):
        check_prediction(y_pred, 3)


def test_check_prediction_float64_overflow_is_refused() -> None:
    # 1e39 is finite in float64 and infinite in float32.
    y_pred = images().astype(np.float64)
    y_pred[0, 0, 0, 0] = 1e39
    with pytest.raises(ValueError, match="overflow float32"):
        check_prediction(y_pred, 2)


def test_check_prediction_refuses_masks() -> None:
    with pytest.raises(ValueError, match=r"got a boolean array.*X\[\.\.\., None\] \* masks"):
        check_prediction(images() > 0, 2)


def test_check_prediction_refuses_complex_and_text() -> None:
    with pytest.raises(ValueError, match="got dtype complex64"):
        check_prediction(images().astype(np.complex64), 2)
    with pytest.raises(ValueError, match="got dtype <U"):
        check_prediction(np.full((2, 128, 128, 2), "x"), 2)


def test_check_prediction_wrong_number_of_blends() -> None:
    with pytest.raises(ValueError, match=r"shape \(3, 128, 128, 2\).*got \(2, 128, 128, 2\)"):
        check_prediction(images(2), 3)


def test_check_prediction_converts_to_float32_and_keeps_negative_values() -> None:
    y_pred = [[[[-0.5, 2.0]] * 128] * 128]  # a nested list, float64 when converted
    checked = check_prediction(y_pred, 1)
    assert checked.dtype == np.float32
    assert checked[0, 0, 0].tolist() == [-0.5, 2.0]
