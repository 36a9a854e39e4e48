"""The documented dask-jobqueue settings (deploy/dask/slurm.yaml) make the batch script that
ENGINE.md describes: one single-threaded worker with one GPU per Slurm job."""

from __future__ import annotations

from pathlib import Path

import dask
import yaml
from dask_jobqueue import SLURMCluster

SLURM_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dask" / "slurm.yaml"


def dotted(tree: dict, prefix: str = "") -> dict:
    """A nested settings file as Dask's dotted keys, which override one value each, as a
    jobqueue.yaml read by Dask does (a nested dict would replace whole sections)."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value and key != "scheduler_options":
            flat |= dotted(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_documented_slurm_settings_ask_for_one_gpu_worker_per_job() -> None:
    config = yaml.safe_load(SLURM_YAML.read_text())
    with dask.config.set(dotted(config)):
        cluster = SLURMCluster(scheduler_options={"host": "127.0.0.1"})
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
    assert "#SBATCH -J deblend-worker" in script
    assert "#SBATCH -p gpu" in script
    assert "#SBATCH --gres=gpu:1" in script
    assert "#SBATCH -t 12:00:00" in script
    assert "/srv/deblend-ramp/app/.venv/bin/python -m distributed.cli.dask_worker" in script
    assert "--nthreads 1" in script and "--resources GPU=1" in script
    assert "export DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0" in script
    assert config["distributed"]["scheduler"]["allowed-failures"] == 0
