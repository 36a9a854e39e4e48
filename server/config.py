"""Settings for the web app, the CLI and the dispatcher, from one TOML file.

``DEBLEND_RAMP_CONFIG`` names the file (see deploy/config.example.toml for every key); without
it the embedded defaults run everything from ``./var`` with SQLite. Keys are upper-case, like
Flask's. Secrets (SECRET_KEY, HIDDEN_SEED) never come from the repository.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONFIG_ENV = "DEBLEND_RAMP_CONFIG"


def default_settings(var_dir: Path) -> dict[str, Any]:
    """The embedded defaults: everything under ``var_dir``, SQLite, a local Dask cluster."""
    return {
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'deblend-ramp.sqlite'}",
        "DATA_ROOT": str(var_dir / "data"),
        "SCRATCH_DIR": str(var_dir / "scratch"),
        # None: the dispatcher starts a local cluster of LOCAL_WORKERS processes.
        "DASK_SCHEDULER_ADDRESS": None,
        "LOCAL_WORKERS": 2,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,  # whole upload request
        "SUBMISSION_MAX_FILE_BYTES": 512 * 1024,  # each extra file
        "SUBMISSION_MAX_FILES": 5,
        "DISPATCHER_POLL_SECONDS": 0.5,
        # A job running past its timeout plus this margin is cancelled by the dispatcher.
        "ENGINE_WATCHDOG_MARGIN_SECONDS": 120,
        "ENGINE_QUICK_CHECK_TIMEOUT_SECONDS": 300,
        # Longest wait between passes while the database or the scheduler is unreachable.
        "ENGINE_MAX_BACKOFF_SECONDS": 30,
        # "slurm": start workers through dask-jobqueue (deploy/ENGINE.md).
        "DASK_CLUSTER": None,
        "DASK_SLURM": {},
        "DASK_SLURM_JOBS": 1,
        "HIDDEN_SEED": None,
    }


def _secret_key(var_dir: Path) -> str:
    """A per-installation key kept in ``var_dir``, so sessions survive restarts."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the TOML file named by ``DEBLEND_RAMP_CONFIG``, then ``overrides``."""
    overrides = dict(overrides or {})
    file_settings: dict[str, Any] = {}
    config_path = os.environ.get(CONFIG_ENV)
    if config_path:
        with open(config_path, "rb") as config_file:
            file_settings = {k.upper(): v for k, v in tomllib.load(config_file).items()}
    var_dir = Path(
        overrides.get("VAR_DIR") or file_settings.get("VAR_DIR") or Path.cwd() / "var"
    ).resolve()
    settings = default_settings(var_dir)
    settings.update(file_settings)
    settings.update(overrides)
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = _secret_key(var_dir)
    return settings
