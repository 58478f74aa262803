"""Learner, trainer and admin pages in a real browser: flows, keyboard, axe-core, framing."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from lti_tool.database import db
from lti_tool.models import Platform
from tests.browser.conftest import (
    LiveServer,
    assert_no_serious_accessibility_violation,
    screenshot,
)
from tests.lti_tool.pages_world import World, launch_for, post_quiz_statements, token_for

pytestmark = pytest.mark.browser


def _url(server: LiveServer, app: Flask, launch: Any, path: str) -> str:
    return f"{server.url}{path}?lt={token_for(app, launch)}"


def test_learner_sees_progress_downloads_data_and_page_passes_axe(
    app: Flask, world: World, live_server: LiveServer, page: Any
) -> None:
    launch = launch_for(world.alice, world.course_a, world.link_a, "learner")
    page.goto(_url(live_server, app, launch, "/learner/"))
    assert page.locator("h1").inner_text() == "Ma progression"
    assert page.locator("html").get_attribute("lang") == "fr"
    page.locator("summary", has_text="1 preuve").nth(1).click()  # open C2's <details>
    assert page.get_by_text("Jeu de rôle").is_visible()
    screenshot(page, "learner-progress")
    assert_no_serious_accessibility_violation(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger mes données (JSON)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["person"]["name"] == "Alice Martin"


def test_keyboard_user_reaches_the_content_through_the_skip_link(
    app: Flask, world: World, live_server: LiveServer, page: Any
) -> None:
    launch = launch_for(world.alice, world.course_a, world.link_a, "learner", "en")
    page.goto(_url(live_server, app, launch, "/learner/"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_trainer_filters_drills_down_and_exports(
    app: Flask, world: World, live_server: LiveServer, page: Any
) -> None:
    launch = launch_for(world.tom, world.course_a, world.link_a, "instructor")
    page.goto(_url(live_server, app, launch, "/trainer/"))
    assert page.locator("h1").inner_text() == "Tableau de bord de la classe"
    matrix = page.get_by_role("table", name="État des compétences de chaque apprenant, par bloc")
    assert matrix.get_by_role("rowheader").count() == 2
    screenshot(page, "trainer-dashboard")
    assert_no_serious_accessibility_violation(page)

    # Filter by name with the plain form (no script needed).
    # (each click loads a new page: counting rows before it has come counts the old one)
    page.get_by_label("Nom de l’apprenant").fill("bob")
    with page.expect_navigation():
        page.get_by_role("button", name="Appliquer les filtres").click()
    assert matrix.get_by_role("rowheader").count() == 1
    assert "Bob Durand" in matrix.inner_text()
    # Then by state: who has something in progress.
    with page.expect_navigation():
        page.get_by_role("link", name="Effacer les filtres").click()
    page.get_by_label("Apprenants ayant au moins une compétence").select_option("en_cours")
    with page.expect_navigation():
        page.get_by_role("button", name="Appliquer les filtres").click()
    assert matrix.get_by_role("rowheader").count() == 1
    screenshot(page, "trainer-dashboard-filtered")

    with page.expect_download() as download:
        page.get_by_role(
            "link", name="CSV avec points-virgules (Excel en français)", exact=True
        ).click()
    text = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["Alice Martin"]
    # The jury's record, for the certifier: no deliberation yet, its header alone.
    with page.expect_download() as download:
        page.get_by_role("link", name="procès-verbal du jury (Excel, XLSX)").click()
    assert download.value.suggested_filename == "jury-record.xlsx"
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert sheet is not None and next(sheet.iter_rows(values_only=True))[:2] == (
        "Apprenant",
        "Courriel",
    )

    page.get_by_role("link", name="Alice Martin").click()
    assert page.locator("h1").inner_text() == "Alice Martin"
    assert page.get_by_role("heading", name="Chronologie des preuves").is_visible()
    screenshot(page, "trainer-learner-detail")
    assert_no_serious_accessibility_violation(page)


def test_admin_loads_the_referentiel_from_the_page(
    app: Flask, world: World, live_server: LiveServer, page: Any
) -> None:
    launch = launch_for(world.admin, world.course_a, world.link_a, "admin")
    page.goto(_url(live_server, app, launch, "/admin/"))
    assert page.locator("h1").inner_text() == "Administration"
    assert_no_serious_accessibility_violation(page)
    page.get_by_label("Référentiel intégré").select_option("diplovis-bgdc")
    page.get_by_role("button", name="Charger").click()
    assert page.get_by_role("status").inner_text() == "Le référentiel a été chargé."
    assert page.get_by_text("DIPLOVIS - Bachelor en gestion").first.is_visible()
    screenshot(page, "admin")
    assert_no_serious_accessibility_violation(page)


def test_registered_platform_frames_the_tool_and_gets_resize_messages(
    app: Flask, world: World, live_server: LiveServer, lms_page_server: int, page: Any
) -> None:
    lms = f"http://localhost:{lms_page_server}"
    with app.app_context():
        db.session.add(
            Platform(
                issuer=lms,
                client_id="frame-test",
                auth_login_url=f"{lms}/auth",
                auth_token_url=f"{lms}/token",
                key_set_url=f"{lms}/certs",
            )
        )
        db.session.commit()
    launch = launch_for(world.alice, world.course_a, world.link_a, "learner")
    page.goto(f"{lms}/course?src={_url(live_server, app, launch, '/learner/')}")
    frame = page.frame_locator("#tool")
    assert frame.locator("h1").inner_text() == "Ma progression"
    page.wait_for_function("window.resizes.length > 0")
    assert page.evaluate("Math.max(...window.resizes)") > 200
    screenshot(page, "learner-in-lms-frame")


def test_unregistered_site_cannot_frame_the_tool(
    app: Flask, world: World, live_server: LiveServer, lms_page_server: int, page: Any
) -> None:
    stranger = f"http://127.0.0.1:{lms_page_server}"  # not a registered platform origin
    launch = launch_for(world.alice, world.course_a, world.link_a, "learner")
    page.goto(f"{stranger}/course?src={_url(live_server, app, launch, '/learner/')}")
    page.wait_for_timeout(500)
    child = page.frames[1]
    assert child.url.startswith("chrome-error://")  # the browser refused to frame it
    assert "Ma progression" not in child.content()
    assert page.evaluate("window.resizes.length") == 0


def test_trainer_signs_off_a_bloc_with_two_jurors_and_overrides_a_state(
    app: Flask, world: World, live_server: LiveServer, page: Any
) -> None:
    launch = launch_for(world.tom, world.course_a, world.link_a, "instructor")
    page.goto(_url(live_server, app, launch, f"/trainer/learners/{world.alice.id}"))
    form = page.locator("form", has=page.get_by_role("button", name="Enregistrer la signature"))
    for name, ident, external in (
        ("Inès Interne", "ines@cfa", False),
        ("Éric Externe", "eric@pro", True),
    ):
        form.get_by_label("Bloc", exact=True).select_option("bloc-1")
        form.get_by_label("Nom du juré").fill(name)
        form.get_by_label("Identifiant du juré (par exemple son courriel)").fill(ident)
        form.get_by_role("radio", name="oui" if external else "non", exact=True).check()
        form.get_by_role("radio", name="validé", exact=True).check()
        form.get_by_label("Commentaire").fill("Mise en situation réussie")
        form.get_by_role("button", name="Enregistrer la signature").click()
        assert page.get_by_role("status").inner_text() == "La signature a été enregistrée."
        form = page.locator("form", has=page.get_by_role("button", name="Enregistrer la signature"))
    assert page.get_by_text("décidé : Validé par le jury").is_visible()
    screenshot(page, "trainer-jury-signed-off")

    override = page.locator("form", has=page.get_by_role("button", name="Fixer l’état"))
    override.get_by_label("Compétence").select_option(str(world.competencies[4].id))
    override.get_by_label("Nouvel état").select_option("acquis")
    override.get_by_label("Motif (obligatoire, conservé dans le journal d’audit)").fill(
        "Observé en entreprise"
    )
    override.get_by_role("button", name="Fixer l’état").click()
    assert page.get_by_role("status").inner_text() == "L’état a été fixé manuellement."
    assert page.get_by_text("fixé manuellement par un formateur").first.is_visible()
    assert_no_serious_accessibility_violation(page)


def test_admin_maps_an_activity_the_evidence_report_finds_unmapped(
    app: Flask, world: World, live_server: LiveServer, page: Any
) -> None:
    quiz = "https://moodle-a.test/mod/quiz/view.php?id=99"
    post_quiz_statements(app, ("https://moodle-a.test", "102", 99))  # Bob, unmapped quiz
    launch = launch_for(world.admin, world.course_a, world.link_a, "admin")
    page.goto(_url(live_server, app, launch, "/admin/"))
    report = page.locator("section", has=page.locator("#gaps-heading"))
    assert "1 n’en ont donné aucune." in report.inner_text()
    assert_no_serious_accessibility_violation(page)
    screenshot(page, "admin-evidence-gaps")

    report.get_by_role("link", name=f"L’associer {quiz}").click()

    assert page.get_by_label("Identifiant de l’activité (IRI)").input_value() == quiz
    page.get_by_label("Compétence", exact=True).select_option(index=1)
    page.get_by_role("button", name="Ajouter la règle").click()
    assert page.get_by_role("status").is_visible()
    assert "0 n’en ont donné aucune." in report.inner_text()
