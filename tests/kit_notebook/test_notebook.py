"""The students' notebook runs from top to bottom on a tiny dataset."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

STARTING_KIT = Path(__file__).resolve().parents[2] / "ramp_kit"
NOTEBOOK = STARTING_KIT / "deblending_starting_kit.ipynb"


def all_outputs(notebook):
    """The text of every stream and result of an executed notebook, concatenated."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def executed_notebook(tmp_path_factory, monkeypatch_module):
    from ramp_kit.data import generate_student_release

    release = tmp_path_factory.mktemp("release")
    generate_student_release(release, n_train=16, n_test=8, seed=2019, jobs=1, progress=False)
    # The kernel inherits these: the tiny release, and one short epoch for the network.
    monkeypatch_module.setenv("DEBLEND_DATA_DIR", str(release))
    monkeypatch_module.setenv("RAMP_TEST_MODE", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(STARTING_KIT)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return notebook


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_notebook_is_saved_without_outputs():
    # The committed notebook is the one make_notebook.py writes: no stale outputs.
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


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
    images = [
        output
        for cell in executed_notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    # Blends, flux shares, preview of images and residuals, breakdown.
    assert len(images) >= 4


def test_notebook_ramp_test_cell_passes(executed_notebook):
    assert "ramp-test exit code: 0" in all_outputs(executed_notebook)
