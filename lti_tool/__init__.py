"""The LTI 1.3 tool: Flask application factory."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_tool import config as tool_config
from lti_tool import evidence_drainer
from lti_tool.database import db

PACKAGE_DIR = Path(__file__).resolve().parent


def templates_folder() -> Path:
    """``templates/`` ships inside the wheel as ``lti_tool/templates``; in a checkout it
    is the top-level folder beside the package."""
    inside = PACKAGE_DIR / "templates"
    return inside if inside.is_dir() else PACKAGE_DIR.parent / "templates"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    instance_path = os.environ.get("LTI_TOOL_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(templates_folder()),
    )
    app.config.from_mapping(tool_config.DEFAULTS)
    app.config.from_mapping(tool_config.from_environment(os.environ))
    if test_config is not None:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = tool_config.kept_secret_key(instance)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = tool_config.default_database_url(instance)
    app.config["BASE_URL"] = str(app.config["BASE_URL"]).rstrip("/")

    _configure_logging(app)
    if app.config["TRUSTED_PROXIES"]:
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )

    db.init_app(app)
    evidence_drainer.init_app(app)
    _register_blueprints(app)
    if not app.testing:
        # What start-up made (modules, mappers, templates) lives as long as the process:
        # keep it out of the cyclic collector's full passes, which otherwise scan it all
        # again and again (a third of the CPU time of deriving evidence in batches).
        # Not under tests, which make many apps in one process and drop them.
        gc.freeze()
    return app


def _configure_logging(app: Flask) -> None:
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Migration chatter is noise on the CLI, whose commands confirm in one line.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


def _register_blueprints(app: Flask) -> None:
    from lti_tool import (
        admin_views,
        case_views,
        csrf,
        errors,
        health,
        i18n,
        input_guard,
        learner_views,
        navigation,
        rate_limits,
        referentiel_views,
        security_headers,
        trainer_views,
        xapi_profile,
        xapi_views,
    )
    from lti_tool.access import launch_url

    errors.init_app(app)
    input_guard.init_app(app)
    i18n.init_app(app)
    csrf.init_app(app)
    security_headers.init_app(app)
    navigation.init_app(app)
    app.jinja_env.globals["launch_url"] = launch_url
    app.register_blueprint(health.bp)
    app.register_blueprint(learner_views.bp, url_prefix="/learner")
    app.register_blueprint(trainer_views.bp, url_prefix="/trainer")
    app.register_blueprint(admin_views.bp, url_prefix="/admin")
    app.register_blueprint(xapi_profile.bp, url_prefix="/xapi")
    app.register_blueprint(referentiel_views.bp)
    app.register_blueprint(case_views.bp)
    # The xAPI resources authenticate every request with HTTP Basic credentials.
    csrf.csrf.exempt(xapi_views.bp)
    app.register_blueprint(xapi_views.bp, url_prefix="/xapi")
    _register_lti(app)
    # Last: it wraps views of the blueprints registered above.
    rate_limits.init_app(app)


def _register_lti(app: Flask) -> None:
    from lti_tool import cookies, launch_views, registration_views, roster_views
    from lti_tool.csrf import csrf

    cookies.init_app(app)
    app.register_blueprint(launch_views.bp)
    app.register_blueprint(registration_views.bp)
    app.register_blueprint(roster_views.bp)
    # Platforms post to these: their protection is the LTI state, nonce and signature
    # (and, for the Deep Linking form and the registration, the launch token or the
    # platform's registration token).
    csrf.exempt(launch_views.bp)
    csrf.exempt(registration_views.bp)
