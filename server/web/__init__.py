"""The Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from server.config import load_settings
from server.web import compression
from server.web.database import init_db
from server.web.extensions import csrf, login_manager


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides the settings file and the embedded defaults."""
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(load_settings(config))
    init_db(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    register_blueprints(app)
    compression.init_app(app)
    return app


def register_blueprints(app: Flask) -> None:
    """One blueprint per user-facing area."""
    from server.web import admin, auth, debrief, events, leaderboard, submissions

    for module in (auth, events, submissions, leaderboard, debrief, admin):
        app.register_blueprint(module.bp)
