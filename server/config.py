"""Settings for the web app, the CLI and the dispatcher, from one TOML file.

``DEBLEND_RAMP_CONFIG`` names the file (see deploy/config.example.toml for every key); without
it the embedded defaults run everything from ``./var`` with SQLite. Keys are upper-case, like
Flask's. Secrets (SECRET_KEY) never come from the repository.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server.engine import job
from server.private_files import write_private_text

CONFIG_ENV = "DEBLEND_RAMP_CONFIG"
MIN_SECRET_KEY_LENGTH = 32
# Keys that appear in examples and tutorials: refused whatever the set-up.
EXAMPLE_SECRET_KEYS = {"change-me", "changeme", "replace-me", "secret", "secret-key", "dev"}


class ConfigError(ValueError):
    """A setting the web app refuses to start with; the message says what to change."""


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
        "ENGINE_QUICK_CHECK_TIMEOUT_SECONDS": job.DEFAULT_QUICK_CHECK_TIMEOUT_SECONDS,
        # Per job, whatever the event: processes and threads, scratch disk, returned files.
        "ENGINE_MAX_PROCESSES": job.DEFAULT_MAX_PROCESSES,
        "ENGINE_DISK_LIMIT_MB": job.DEFAULT_DISK_LIMIT_MB,
        "ENGINE_OUTPUT_LIMIT_MB": job.DEFAULT_OUTPUT_LIMIT_MB,
        # Longest wait between passes while the database or the scheduler is unreachable.
        "ENGINE_MAX_BACKOFF_SECONDS": 30,
        # "slurm": start workers through dask-jobqueue (deploy/ENGINE.md).
        "DASK_CLUSTER": None,
        "DASK_SLURM": {},
        "DASK_SLURM_JOBS": 1,
        # A Slurm worker idle this long is released, so an idle event holds no GPU (seconds).
        "DASK_SLURM_IDLE_SECONDS": 300,
        # The address students open, e.g. "https://deblend.school.org". Setting it declares a
        # production set-up: the web app then refuses a missing, short or example SECRET_KEY
        # (check_web_settings), and cookies are Secure when it is https.
        "PUBLIC_URL": None,
        # Proxies in front of gunicorn whose X-Forwarded-For/-Proto are believed (nginx: 1).
        "TRUSTED_PROXIES": 0,
        # How long "keep me logged in" lasts, in days: the school's week, not a year.
        "REMEMBER_DAYS": 7,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Unset: Secure exactly when PUBLIC_URL is https (False there is refused).
        "SESSION_COOKIE_SECURE": None,
        "REMEMBER_COOKIE_SECURE": None,
        # Failed log-ins allowed per (account, client address), and per client address.
        "LOGIN_LIMIT_PER_ACCOUNT": "5 per minute; 20 per hour",
        "LOGIN_LIMIT_PER_ADDRESS": "100 per hour",
        # Where those counts live: each web process counts alone with memory:// (SECURITY.md).
        "RATELIMIT_STORAGE_URI": "memory://",
        # Sign-up through the site; with either list non-empty, only those emails or domains.
        "SIGNUP_ENABLED": True,
        "SIGNUP_ALLOWED_EMAILS": [],
        "SIGNUP_ALLOWED_DOMAINS": [],
    }


def _secret_key(var_dir: Path) -> str:
    """A random per-installation key kept in ``var_dir`` (0600), so sessions survive restarts.

    Only for set-ups without PUBLIC_URL (the demo, a laptop): production names its key.
    """
    path = var_dir / "secret_key"
    write_private_text(path, secrets.token_hex(32))
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
    if not settings.get("SECRET_KEY") and not settings.get("PUBLIC_URL"):
        settings["SECRET_KEY"] = _secret_key(var_dir)
    return settings


def _check_secret_key(key: str | None, production: bool) -> None:
    fix = (
        "set secret_key in the settings file to a random value, e.g. the output of "
        "`python3 -c 'import secrets; print(secrets.token_hex(32))'`"
    )
    if not key:
        raise ConfigError(
            f"secret_key is missing; a production set-up (public_url) needs one: {fix}"
        )
    if key.strip().lower() in EXAMPLE_SECRET_KEYS or "change-me" in key.lower():
        raise ConfigError(
            f"secret_key is the example value {key!r}: anyone can forge sessions with it; {fix}"
        )
    if production and len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"secret_key has {len(key)} characters; at least {MIN_SECRET_KEY_LENGTH} random "
            f"ones are needed: {fix}"
        )


def check_web_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Refuse unsafe settings and resolve the cookie flags; raises :class:`ConfigError`.

    Production (PUBLIC_URL set) needs a secret key of 32+ characters that is not an example,
    and Secure cookies when PUBLIC_URL is https. Example keys are refused everywhere.
    """
    public_url = settings.get("PUBLIC_URL")
    production = bool(public_url)
    https = False
    if production:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"public_url must be the site's address, like https://deblend.school.org; "
                f"got {public_url!r}"
            )
        https = parts.scheme == "https"
        settings["PREFERRED_URL_SCHEME"] = parts.scheme
    _check_secret_key(settings.get("SECRET_KEY"), production)
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if settings.get(key) is None:
            settings[key] = https
        elif https and not settings[key]:
            raise ConfigError(
                f"{key.lower()} is false but public_url is https: the cookie would also travel "
                "over plain HTTP, where anyone on the network can copy it; remove the key"
            )
    settings["REMEMBER_COOKIE_DURATION"] = timedelta(days=settings["REMEMBER_DAYS"])
    return settings
