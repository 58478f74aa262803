"""The administrator's page: platforms, registration URLs, référentiels, xAPI intake, delivery.

Reached from an LTI launch with an administrator role (``require_launch("admin")``).
Platforms (and the credentials bound to one) are shown for the administrator's own
platform only: an administrator of one LMS never sees another LMS's registration.
Référentiels and mapping rules are shared by every course of the tool.

Forms post back here; a domain error re-renders the page with the reason (400), a
success redirects with a notice (no flash: no cookie in the LMS iframe).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lti_tool.access import launch_url, require_launch
from lti_tool.achievement import outbox
from lti_tool.course_scope import actor_of
from lti_tool.database import db
from lti_tool.models import Platform
from referentiel import data_file
from referentiel.exceptions import ReferentielError
from referentiel.loading import load_document
from referentiel.lookup import competency_iri
from referentiel.models import Bloc, Framework
from referentiel.sources import read_source
from xapi import credentials, mapping_rules
from xapi.credentials import IssuedCredential
from xapi.evidence import Gap
from xapi.evidence_gaps import evidence_gaps
from xapi.exceptions import XapiError
from xapi.models import Credential

bp = Blueprint("admin", __name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# The page explains the latest statements without evidence, not all of them: it must
# answer quickly whatever the store holds (``lti-tool evidence gaps`` reads them all).
GAPS_EXAMINED = 2000
UPLOAD_SUFFIXES = (".json", ".csv")


def registration_urls(base_url: str) -> list[tuple[str, str]]:
    """What an LMS admin types in when registering the tool by hand (LTI 1.3 Core §4)."""
    return [
        ("login", f"{base_url}/lti/login"),
        ("launch", f"{base_url}/lti/launch"),
        ("deep_linking", f"{base_url}/lti/launch"),
        ("jwks", f"{base_url}/lti/jwks"),
        ("dynamic_registration", f"{base_url}/lti/register"),
    ]


def _export_links(framework: Framework) -> list[tuple[str, str]]:
    """Links to the référentiel's published forms (lti_tool/referentiel_views.py)."""
    return [
        (gettext("Web page"), url_for("referentiel.framework_page", framework_key=framework.key)),
        (gettext("Moodle CSV"), url_for("referentiel.moodle_csv", framework_key=framework.key)),
        (gettext("CASE 1.0 (JSON)"), url_for("referentiel.case_json", framework_key=framework.key)),
    ]


def _own_credentials() -> list[Credential]:
    """xAPI credentials bound to the administrator's platform (never another one's)."""
    issuer = g.launch.issuer.rstrip("/")
    return [c for c in credentials.list_credentials(db.session) if c.platform_issuer == issuer]


def _gap_texts() -> dict[str, dict[Gap, str]]:
    """Per reason a statement gave no evidence: the table's caption (what to do about
    it) and what its rows name."""
    statement, actor = gettext("Statement"), gettext("Actor")
    return {
        "gap_captions": {
            Gap.VOIDED: gettext("Voided meanwhile"),
            Gap.VOIDING: gettext("Voiding statements"),
            Gap.UNREADABLE: gettext("Stored JSON that can no longer be read"),
            Gap.NOT_AN_AGENT: gettext("A group as actor: evidence is a person's"),
            Gap.NOT_AN_ACTIVITY: gettext("An object that is not an activity"),
            Gap.NO_RESULT: gettext(
                "No result (no score, success or completion): launches and views are "
                "kept as statements only"
            ),
            Gap.UNKNOWN_LEARNER: gettext(
                "Learners not known yet: their statements count as soon as they launch "
                "the tool or appear on a course roster"
            ),
            Gap.OTHER_PLATFORM: gettext(
                "Sent with a credential bound to another platform than the learner's"
            ),
            Gap.NO_COMPETENCY: gettext(
                "Activities no competency tags and no mapping rule names: map them above"
            ),
        },
        "gap_columns": {
            Gap.VOIDED: statement,
            Gap.VOIDING: statement,
            Gap.UNREADABLE: statement,
            Gap.NOT_AN_AGENT: actor,
            Gap.NOT_AN_ACTIVITY: gettext("Object type"),
            Gap.NO_RESULT: gettext("Verb"),
            Gap.UNKNOWN_LEARNER: actor,
            Gap.OTHER_PLATFORM: actor,
            Gap.NO_COMPETENCY: gettext("Activity"),
        },
    }


def _page(
    status: int = 200, error: str | None = None, issued: IssuedCredential | None = None
) -> ResponseReturnValue:
    session = db.session
    base = current_app.config["BASE_URL"]
    platforms = list(
        session.scalars(
            select(Platform)
            .where(Platform.issuer == g.launch.issuer)
            .options(selectinload(Platform.deployments))
            .order_by(Platform.client_id)
        )
    )
    frameworks = list(
        session.scalars(
            select(Framework)
            .options(selectinload(Framework.blocs).selectinload(Bloc.competencies))
            .order_by(Framework.key)
        )
    )
    competency_choices = [
        (
            f"{f.key} · {b.number}",
            [
                (competency_iri(base, c), f"{c.code} — {c.text[:70]}")
                for c in b.competencies
                if c.retired_at is None
            ],
        )
        for f in frameworks
        for b in f.blocs
        if b.retired_at is None
    ]
    context: dict[str, Any] = {
        "platforms": platforms,
        "frameworks": [(f, _export_links(f)) for f in frameworks],
        "builtins": data_file.builtin_names(),
        "rules": mapping_rules.list_rules(session, base_url=base),
        "competency_choices": competency_choices,
        "urls": registration_urls(base),
        "credentials": _own_credentials(),
        "sync": outbox.sync_overview(session, g.launch.issuer),
        "gaps": evidence_gaps(session, base, platform=g.launch.issuer, recent=GAPS_EXAMINED),
        "issued": issued,
        "xapi_endpoint": f"{base}/xapi/",
        # An activity to map, from a "map it" link of the report below the form, or
        # what was typed in a form refused.
        "prefill_activity": request.values.get("activity", "")[:2000],
        "error": error,
    }
    context.update(_gap_texts())
    headers = {"Cache-Control": "no-store"}  # a new secret may be on the page
    return render_template("admin/index.html", **context), status, headers


def _done(notice: str) -> ResponseReturnValue:
    return redirect(launch_url("admin.index", notice=notice), code=303)


@bp.get("/")
@require_launch("admin")
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/referentiels")
@require_launch("admin")
def load_referentiel() -> ResponseReturnValue:
    """Load (or update) a built-in référentiel or an uploaded file (our JSON, Moodle CSV)."""
    session = db.session
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            suffix = Path(upload.filename).suffix.lower()
            if suffix not in UPLOAD_SUFFIXES:
                return _page(400, gettext("Upload a .json référentiel or a Moodle .csv file."))
            content = upload.stream.read(MAX_UPLOAD_BYTES + 1)
            if len(content) > MAX_UPLOAD_BYTES:
                return _page(400, gettext("The file is larger than 5 MB."))
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"upload{suffix}"
                path.write_bytes(content)
                document = read_source(str(path))
            origin = f"upload:{upload.filename}"
        else:
            name = request.form.get("builtin", "")
            if name not in data_file.builtin_names():
                return _page(400, gettext("Choose a built-in référentiel or a file."))
            document = read_source(name)
            origin = name
        load_document(session, document, actor=actor_of(session, g.launch), origin=origin)
        session.commit()
    except ReferentielError as error:
        session.rollback()
        return _page(400, str(error))
    return _done("referentiel-loaded")


@bp.post("/mapping-rules")
@require_launch("admin")
def add_mapping_rule() -> ResponseReturnValue:
    session = db.session
    try:
        mapping_rules.add_rules(
            session,
            request.form.get("activity", ""),
            request.form.getlist("competency"),
            prefix=request.form.get("prefix") == "1",
            base_url=current_app.config["BASE_URL"],
            actor=actor_of(session, g.launch),
        )
        session.commit()
    except XapiError as error:
        session.rollback()
        return _page(400, str(error))
    return _done("rule-added")


@bp.post("/mapping-rules/<int:rule_id>/remove")
@require_launch("admin")
def remove_mapping_rule(rule_id: int) -> ResponseReturnValue:
    session = db.session
    try:
        mapping_rules.remove_rule(
            session,
            rule_id,
            base_url=current_app.config["BASE_URL"],
            actor=actor_of(session, g.launch),
        )
        session.commit()
    except XapiError as error:
        session.rollback()
        return _page(404, str(error))
    return _done("rule-removed")


@bp.post("/credentials")
@require_launch("admin")
def create_credential() -> ResponseReturnValue:
    """A new xAPI key and secret for an activity provider, bound to this platform's
    learners. The secret is shown on this answer only: only its hash is kept."""
    session = db.session
    name = request.form.get("name", "").strip()
    if not name:
        return _page(400, gettext("Give the credential a name (who will use it)."))
    issued = credentials.create_credential(session, name[:255], platform_issuer=g.launch.issuer)
    session.commit()
    return _page(201, issued=issued)


@bp.post("/credentials/<key>/revoke")
@require_launch("admin")
def revoke_credential(key: str) -> ResponseReturnValue:
    session = db.session
    if key not in {c.key for c in _own_credentials()}:
        return _page(404, gettext("No credential of your platform has this key."))
    credentials.revoke_credential(session, key)
    session.commit()
    return _done("credential-revoked")


@bp.post("/outbox/retry")
@require_launch("admin")
def retry_dead_letters() -> ResponseReturnValue:
    """Queue dead gradebook scores of the admin's platform again: the ones ticked, or all."""
    session = db.session
    if request.form.get("all") == "1":
        wanted: list[int] | None = None
    else:
        try:
            wanted = [int(value) for value in request.form.getlist("outbox_id")]
        except ValueError:
            return _page(400, gettext("Tick the scores to send again."))
        if not wanted:
            return _page(400, gettext("Tick the scores to send again."))
    outbox.retry(session, wanted, actor=actor_of(session, g.launch), issuer=g.launch.issuer)
    return _done("retry")
