"""Languages of the pages: French by default, English, chosen from the LTI launch.

The launch carries the user's language in the ``launch_presentation`` claim's
``locale`` (LTI 1.3 Core §5.4.4), which the launch copies to ``g.launch.locale``.
Messages are written in English in code and templates (the catalogue source
language); ``lti_tool/translations/fr`` gives the French every page shows by default.
Pages opened without a launch (error pages) follow the browser's Accept-Language.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_babel import Babel, format_date, format_datetime, format_percent

SUPPORTED_LOCALES = ("fr", "en")

babel = Babel()


def normalise_locale(value: str | None) -> str | None:
    """``en-GB``, ``en_US`` or ``EN`` → ``en``; ``None`` for a language we do not speak."""
    if not value:
        return None
    language = value.replace("_", "-").split("-", 1)[0].strip().lower()
    return language if language in SUPPORTED_LOCALES else None


def select_locale() -> str:
    launch = g.get("launch")
    chosen = normalise_locale(getattr(launch, "locale", None)) if launch is not None else None
    if chosen is None and launch is None:
        chosen = request.accept_languages.best_match(SUPPORTED_LOCALES)
    return chosen or str(current_app.config["DEFAULT_LOCALE"])


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LOCALE"])
    babel.init_app(app, locale_selector=select_locale, default_domain="messages")
    from lti_tool.charts import bloc_short

    app.jinja_env.filters["bloc_short"] = bloc_short
    app.jinja_env.globals.update(
        format_datetime=format_datetime, format_date=format_date, format_percent=format_percent
    )
