"""The students' notebook runs from top to bottom on a tiny dataset."""

from pathlib import Path

import pytest

from tests.notebooks import all_outputs, code_cells_with_outputs, execute_notebook, images

STARTING_KIT = Path(__file__).resolve().parents[2] / "ramp_kit"
NOTEBOOK = STARTING_KIT / "deblending_starting_kit.ipynb"


@pytest.fixture(scope="module")
def executed_notebook(tmp_path_factory):
    from ramp_kit.data import generate_student_release

    release = tmp_path_factory.mktemp("release")
    generate_student_release(release, n_train=16, n_test=8, seed=2019, jobs=1, progress=False)
    return execute_notebook(NOTEBOOK, "DEBLEND_DATA_DIR", release, cell_timeout_seconds=600)


def test_notebook_is_saved_without_outputs():
    # The committed notebook is the one make_notebook.py writes: no stale outputs.
    assert code_cells_with_outputs(NOTEBOOK) == []


def test_notebook_loads_the_data_and_lists_the_scores(executed_notebook):
    text = all_outputs(executed_notebook)
    assert "train: X (" in text
    assert "central_flux_error" in text and "central_iou" in text


def test_notebook_scores_the_rules_and_both_baselines(executed_notebook):
    text = all_outputs(executed_notebook)
    for row in ("whole blend as central", "dominant galaxy (ideal)", "starting_kit (sep)",
                "fcnn (demo training)"):  # fmt: skip
        assert row in text


def test_notebook_breaks_the_error_down_by_separation(executed_notebook):
    assert "central flux error by separation (px) (fcnn)" in all_outputs(executed_notebook)


def test_notebook_draws_the_blends(executed_notebook):
    # Blends, flux shares, preview of images and residuals, breakdown.
    assert len(images(executed_notebook)) >= 4


def test_notebook_ramp_test_cell_passes(executed_notebook):
    assert "ramp-test exit code: 0" in all_outputs(executed_notebook)
