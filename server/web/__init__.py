"""The Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from server.config import check_web_settings, load_settings
from server.private_files import private_sqlite_database
from server.web import compression, security
from server.web.database import init_db
from server.web.extensions import csrf, limiter, login_manager


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides the settings file and the embedded defaults.

    Raises ``server.config.ConfigError`` on settings unsafe to serve with (e.g. an example
    secret key).
    """
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(check_web_settings(load_settings(config)))
    private_sqlite_database(app.config["DATABASE_URL"])
    init_db(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    security.init_app(app)
    register_blueprints(app)
    compression.init_app(app)
    return app


def register_blueprints(app: Flask) -> None:
    """One blueprint per user-facing area."""
    from server.web import admin, auth, debrief, events, leaderboard, submissions

    for module in (auth, events, submissions, leaderboard, debrief, admin):
        app.register_blueprint(module.bp)
