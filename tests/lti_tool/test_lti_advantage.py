"""Deep Linking 2.0, Names and Role Provisioning 2.0 and Dynamic Registration 1.0,
end to end over HTTP between the live tool and the test LMS."""

from __future__ import annotations

import json

import lxml.html
import pytest
import requests
from sqlalchemy import select

from lti_tool import dynamic_registration
from lti_tool.cli import main
from lti_tool.database import db
from lti_tool.exceptions import RegistrationFailed
from lti_tool.models.people import CourseContext, LtiUser, Membership
from lti_tool.models.platform import Platform
from lti_tool.models.resource_link import ResourceLink
from lti_tool.nrps import refresh_roster
from tests.lms.flow import LaunchFlow, form_fields
from tests.lms.platform import DL, LIS, LTI, NRPS_SCOPE, TestPlatform

# -- Deep Linking 2.0


def deep_linking_page(flow: LaunchFlow, browser: requests.Session, role: str = "instructor"):  # type: ignore[no-untyped-def]
    return flow.launch(role, browser=browser, message_type="LtiDeepLinkingRequest")


def test_deep_linking_returns_a_signed_resource_link_with_the_chosen_bloc_and_a_line_item(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    browser = requests.Session()
    page = deep_linking_page(launch_flow, browser)
    assert page.status_code == 200, page.text
    form = lxml.html.fromstring(page.text).forms[0]
    choices = [i.get("value") for i in form.inputs if i.get("name") == "placement"]
    assert choices[0] == "diplovis-bgdc" and len(choices) > 1  # whole référentiel, then blocs
    bloc_choice = choices[1]
    fields = {k: v for k, v in form.form_values() if k != "placement"}
    fields["placement"] = bloc_choice
    response = browser.post(f"{launch_flow.tool_url}/lti/deep-link", data=fields, timeout=10)
    assert response.status_code == 200, response.text
    action, posted = form_fields(response.text)
    assert action == f"{lms.url}/deep_link_return" and set(posted) == {"JWT"}
    placed = browser.post(action, data=posted, timeout=10)  # the platform checks it all
    assert placed.status_code == 200, placed.text
    claims = lms.deep_link_responses[-1]
    assert claims[DL + "data"] == json.dumps(lms.deep_link_data)  # echoed (§4.2)
    (item,) = claims[DL + "content_items"]
    framework, bloc = bloc_choice.split("/")
    assert item["type"] == "ltiResourceLink"
    assert item["custom"] == {"framework": framework, "bloc": bloc}
    assert item["lineItem"]["resourceId"] == bloc_choice
    assert {"label", "scoreMaximum", "tag", "resourceId"} <= item["lineItem"].keys()


def test_deep_linking_keeps_claims_holding_integers_beyond_64_bits(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    """JSON and JWT allow any integer; the launch's claims are kept until the choice is
    made, in a JSON column whose fast encoder stops at 64 bits."""
    claims = lms.claims("instructor", message_type="LtiDeepLinkingRequest")
    claims["https://lms.example/claim/counter"] = 10**30
    browser = requests.Session()
    page = launch_flow.launch("instructor", browser=browser, claims=claims)
    assert page.status_code == 200, page.text
    form = lxml.html.fromstring(page.text).forms[0]
    response = browser.post(
        f"{launch_flow.tool_url}/lti/deep-link", data=dict(form.form_values()), timeout=10
    )
    assert response.status_code == 200, response.text
    assert form_fields(response.text)[0] == f"{lms.url}/deep_link_return"


def test_deep_linking_response_can_be_sent_only_once(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    browser = requests.Session()
    page = deep_linking_page(launch_flow, browser)
    fields = dict(lxml.html.fromstring(page.text).forms[0].form_values())
    first = browser.post(f"{launch_flow.tool_url}/lti/deep-link", data=fields, timeout=10)
    assert first.status_code == 200
    again = browser.post(f"{launch_flow.tool_url}/lti/deep-link", data=fields, timeout=10)
    assert again.status_code == 400 and "has expired" in again.text


def test_learner_cannot_place_the_tool_by_deep_linking(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    page = deep_linking_page(launch_flow, requests.Session(), role="learner")
    assert page.status_code == 400 and "teacher or an administrator" in page.text


def test_launch_of_a_placed_bloc_records_it_on_the_resource_link(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    page = launch_flow.launch("learner", custom={"framework": "diplovis-bgdc", "bloc": "bloc-2"})
    assert page.status_code == 200, page.text
    with live_tool.app.app_context():
        link = db.session.scalar(select(ResourceLink))
        assert link is not None and (link.framework_key, link.bloc_key) == (
            "diplovis-bgdc",
            "bloc-2",
        )


# -- Names and Role Provisioning 2.0


def member(user_id: str, role: str, name: str, status: str = "Active") -> dict[str, object]:
    return {
        "user_id": user_id,
        "roles": [LIS + f"membership#{role}"],
        "name": name,
        "status": status,
    }


def refreshed_roster(live_tool) -> int:  # type: ignore[no-untyped-def]
    """Refresh the course's roster in the tool, committed; the member count."""
    with live_tool.app.app_context():
        context = db.session.scalar(select(CourseContext))
        assert context is not None
        count = refresh_roster(db.session, context)
        db.session.commit()
    return count


@pytest.mark.parametrize("moodle_quotes", [False, True], ids=["quotes", "typographic-quotes"])
def test_roster_refresh_lists_learners_who_never_launched_from_nrps_pages(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool, moodle_quotes: bool
) -> None:  # type: ignore[no-untyped-def]
    lms.members["course-1"] = [
        member("10", "Learner", "Bea Never-Launched"),
        member("11", "Learner", "Cid Also-New"),
        member("12", "Learner", "Dee Gone", status="Inactive"),
        member("3", "Instructor", "Tina Trainer"),
    ]
    lms.nrps_page_size = 2  # two pages: the tool follows Link rel="next"
    lms.nrps_moodle_quotes = moodle_quotes  # the gradebook's pages are read either way
    browser = requests.Session()
    dashboard = launch_flow.launch("instructor", browser=browser, user="3")
    assert dashboard.status_code == 200 and "/trainer/" in dashboard.url
    form = lxml.html.fromstring(dashboard.text).xpath('//form[@data-testid="roster-refresh"]')[0]
    refreshed = browser.post(
        f"{launch_flow.tool_url}{form.action}", data=dict(form.form_values()), timeout=10
    )
    assert refreshed.status_code == 200, refreshed.text
    assert "Bea Never-Launched" in refreshed.text and "Cid Also-New" in refreshed.text
    assert "Dee Gone" not in refreshed.text
    assert lms.token_requests == [{"scopes": [NRPS_SCOPE]}]
    with live_tool.app.app_context():
        rows = db.session.execute(
            select(LtiUser.sub, Membership.source, Membership.active, Membership.is_learner)
            .join(Membership, Membership.user_id == LtiUser.id)
            .order_by(LtiUser.sub)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("10", "nrps", True, True),
        ("11", "nrps", True, True),
        ("12", "nrps", False, True),
        ("3", "launch", True, False),
    ]


def test_refresh_roster_marks_members_who_left_inactive(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    launch_flow.launch("learner", user="7")
    lms.members["course-1"] = [member("8", "Learner", "New One")]
    assert refreshed_roster(live_tool) == 1
    with live_tool.app.app_context():
        rows = db.session.execute(
            select(LtiUser.sub, Membership.active).join(
                Membership, Membership.user_id == LtiUser.id
            )
        ).all()
        states = {sub: active for sub, active in rows}
    assert states == {"7": False, "8": True}


def test_members_of_odd_shape_do_not_stop_the_roster_refresh(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    """The roster answer is not signed: a member with roles null, a presentation that is
    text or a user id longer than kept is read as far as it makes sense (was a 500)."""
    launch_flow.launch("learner", user="7")
    odd = member("9", "Learner", "Odd One")
    odd["roles"] = None
    odd["launch_presentation"] = "x"
    odd[LTI + "launch_presentation"] = "x"
    lms.members["course-1"] = [
        odd,
        member("x" * 300, "Learner", "Too Long"),
        member("8", "Learner", "New One"),
    ]
    assert refreshed_roster(live_tool) == 2
    with live_tool.app.app_context():
        subs = set(db.session.scalars(select(LtiUser.sub)))
    assert subs == {"7", "8", "9"}


def test_member_text_that_no_database_stores_is_dropped_from_that_member_only(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    """A NUL (which PostgreSQL text cannot hold) or half of a surrogate pair in one
    member's values: that value is left out, not the roster (whose answer it made
    unreadable, and a 500 before that)."""
    launch_flow.launch("learner", user="7")
    lms.members["course-1"] = [
        member("9", "Learner", "Nul\u0000Name"),
        member("10", "Learner", "Half \ud83d"),
        member("1\u00001", "Learner", "Nul Id"),
        member("8", "Learner", "New One"),
    ]
    assert refreshed_roster(live_tool) == 3
    with live_tool.app.app_context():
        names = {sub: name for sub, name in db.session.execute(select(LtiUser.sub, LtiUser.name))}
    assert names == {"7": "Ada Lovelace", "8": "New One", "9": None, "10": None}


def test_roster_refreshes_share_one_token_and_ask_again_once_it_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    """The NRPS token is kept in the database like the gradebook's: a second refresh
    (from any process) reuses it; when the platform no longer accepts it (401), the
    tool asks for a new one and the refresh still succeeds."""
    launch_flow.launch("learner", user="7")
    lms.members["course-1"] = [member("7", "Learner", "Lea Learner")]
    with live_tool.app.app_context():
        context = db.session.scalar(select(CourseContext))
        assert context is not None
        for _ in range(2):
            assert refresh_roster(db.session, context) == 1
            db.session.commit()
        assert lms.token_requests == [{"scopes": [NRPS_SCOPE]}]
        lms.access_tokens.clear()  # the platform revoked every token
        assert refresh_roster(db.session, context) == 1
        db.session.commit()
    assert lms.token_requests == [{"scopes": [NRPS_SCOPE]}] * 2


def test_roster_refresh_by_a_learner_is_forbidden(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    browser = requests.Session()
    page = launch_flow.launch("learner", browser=browser)
    token = page.url.split("lt=")[1]
    response = browser.post(
        f"{launch_flow.tool_url}/lti/roster/refresh", data={"lt": token}, timeout=10
    )
    assert response.status_code in (400, 403)


# -- Dynamic Registration 1.0


def test_dynamic_registration_registers_the_tool_and_stores_platform_and_deployment(
    lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    token = lms.new_registration_token()
    page = requests.get(lms.registration_start_url(token), timeout=10)
    assert page.status_code == 200, page.text
    assert 'data-testid="registration-done"' in page.text
    assert "lti/registration-close.js" in page.text  # posts org.imsglobal.lti.close
    (sent,) = lms.registrations
    config = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert sent["redirect_uris"] == [f"{live_tool.url}/lti/launch"]
    assert sent["initiate_login_uri"] == f"{live_tool.url}/lti/login"
    assert sent["jwks_uri"] == f"{live_tool.url}/lti/jwks"
    assert NRPS_SCOPE in sent["scope"] and "lti-ags/scope/score" in sent["scope"]
    assert {m["type"] for m in config["messages"]} == {
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    }
    with live_tool.app.app_context():
        platform = db.session.scalar(select(Platform).where(Platform.client_id != lms.client_id))
        assert platform is not None and platform.issuer == lms.issuer and platform.active
        assert [d.deployment_id for d in platform.deployments] == ["1"]
        assert platform.key_set_url == lms.jwks_url


def test_dynamically_registered_platform_can_launch(lms: TestPlatform, live_tool) -> None:  # type: ignore[no-untyped-def]
    requests.get(lms.registration_start_url(lms.new_registration_token()), timeout=10)
    with live_tool.app.app_context():
        platform = db.session.scalar(select(Platform).where(Platform.client_id != lms.client_id))
        assert platform is not None
        lms.client_id, lms.deployment_id = platform.client_id, "1"
    page = LaunchFlow(lms, live_tool.url).launch("learner")
    assert page.status_code == 200 and "/learner/" in page.url


def test_dynamic_registration_without_a_valid_registration_token_fails_cleanly(
    lms: TestPlatform,
) -> None:
    page = requests.get(lms.registration_start_url("not-a-token"), timeout=10)
    assert page.status_code == 400 and "refused the registration (HTTP 401)" in page.text


def test_dynamic_registration_token_is_single_use(lms: TestPlatform) -> None:
    token = lms.new_registration_token()
    assert requests.get(lms.registration_start_url(token), timeout=10).status_code == 200
    again = requests.get(lms.registration_start_url(token), timeout=10)
    assert again.status_code == 400 and "HTTP 401" in again.text


def test_dynamic_registration_refuses_an_issuer_foreign_to_the_configuration_url(
    lms: TestPlatform,
) -> None:
    lms.issuer = "https://moodle.example.org"  # claimed by a configuration served elsewhere
    page = requests.get(lms.registration_start_url(lms.new_registration_token()), timeout=10)
    assert page.status_code == 400
    assert "issuer does not match the address its configuration came from" in page.text
    assert lms.registrations == []


def test_dynamic_registration_never_repoints_an_existing_registration(
    lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    """Whoever answers a registration with a client id already registered for that
    issuer would otherwise get its launches: its keys and endpoints stay as they were."""
    lms.registration_client_id = lms.client_id  # the registration the lms fixture made
    with live_tool.app.app_context():
        before = db.session.scalar(select(Platform).where(Platform.client_id == lms.client_id))
        assert before is not None
        kept = (before.key_set_url, before.auth_token_url, before.auth_login_url)
    page = requests.get(lms.registration_start_url(lms.new_registration_token()), timeout=10)
    assert page.status_code == 400 and "already registered the tool" in page.text
    with live_tool.app.app_context():
        after = db.session.scalar(select(Platform).where(Platform.client_id == lms.client_id))
        assert after is not None
        assert (after.key_set_url, after.auth_token_url, after.auth_login_url) == kept


def test_dynamic_registration_compares_the_issuer_on_a_path_boundary(lms: TestPlatform) -> None:
    """§3.5.1: an issuer https://h/moodle covers https://h/moodle/..., not https://h/moodle-x."""
    lms.issuer = f"{lms.url}/.well"  # a prefix of /.well-known/... but not a path above it
    page = requests.get(lms.registration_start_url(lms.new_registration_token()), timeout=10)
    assert page.status_code == 400
    assert "issuer does not match the address its configuration came from" in page.text
    assert lms.registrations == []


def test_a_public_tool_reads_no_private_address_to_register(lms: TestPlatform, live_tool) -> None:  # type: ignore[no-untyped-def]
    live_tool.app.config["REGISTRATION_PRIVATE_HOSTS"] = False
    page = requests.get(lms.registration_start_url(lms.new_registration_token()), timeout=10)
    assert page.status_code == 400 and "is not a public address" in page.text
    assert lms.registrations == []


@pytest.mark.parametrize(
    ("base_url", "setting", "allowed"),
    [
        ("http://127.0.0.1:8000", None, True),
        ("http://localhost:8000", None, True),
        ("https://10.0.0.5", None, True),
        ("https://tool.example.org", None, False),
        ("https://8.8.8.8", None, False),
        ("https://tool.example.org", True, True),
        ("http://127.0.0.1:8000", False, False),
    ],
)
def test_private_platforms_may_register_only_beside_a_private_tool_unless_set(
    base_url: str, setting: bool | None, allowed: bool
) -> None:
    assert dynamic_registration.private_hosts_allowed(base_url, setting) is allowed


def test_an_https_issuer_must_not_name_plain_http_endpoints() -> None:
    issuer = "https://moodle.example.org"
    configuration = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/mod/lti/auth.php",
        "token_endpoint": "http://moodle.example.org/mod/lti/token.php",
        "jwks_uri": f"{issuer}/mod/lti/certs.php",
        "registration_endpoint": f"{issuer}/mod/lti/openid-registration.php",
        dynamic_registration.PLATFORM_CONFIGURATION: {"product_family_code": "moodle"},
    }
    with pytest.raises(RegistrationFailed, match="is https but not its token_endpoint"):
        dynamic_registration.check_platform_configuration(
            configuration, f"{issuer}:443/mod/lti/openid-configuration.php"
        )


def test_dynamic_registration_needs_the_openid_configuration_parameter(live_tool) -> None:  # type: ignore[no-untyped-def]
    page = requests.get(f"{live_tool.url}/lti/register", timeout=10)
    assert page.status_code == 400 and "openid_configuration" in page.text


def test_pending_registration_refuses_logins_until_activated(lms: TestPlatform, live_tool) -> None:  # type: ignore[no-untyped-def]
    live_tool.app.config["REGISTRATION_AUTO_ACTIVATE"] = False
    requests.get(lms.registration_start_url(lms.new_registration_token()), timeout=10)
    with live_tool.app.app_context():
        platform = db.session.scalar(select(Platform).where(Platform.client_id != lms.client_id))
        assert platform is not None and not platform.active
        lms.client_id, lms.deployment_id = platform.client_id, "1"
    hint = lms.prepare(lms.claims())
    refused = requests.get(
        f"{live_tool.url}/lti/login",
        params=lms.login_parameters(hint),
        timeout=10,
        allow_redirects=False,
    )
    assert refused.status_code == 400 and "not active" in refused.text
    result = live_tool.app.test_cli_runner().invoke(
        main, ["platform", "activate", lms.issuer, "--client-id", lms.client_id]
    )
    assert result.exit_code == 0, result.output
    assert LaunchFlow(lms, live_tool.url).launch("learner").status_code == 200


@pytest.mark.parametrize("claim", ["name", "email"])
def test_claims_the_platform_does_not_share_keep_what_the_tool_knew(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool, claim: str
) -> None:  # type: ignore[no-untyped-def]
    launch_flow.launch("learner")
    launch_flow.launch("learner", **{claim: None})
    with live_tool.app.app_context():
        user = db.session.scalar(select(LtiUser))
        assert user is not None and (user.name, user.email) == ("Ada Lovelace", "ada@example.org")


def test_context_records_nrps_and_ags_endpoints_from_the_launch(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    launch_flow.launch("instructor")
    claims = lms.claims()
    with live_tool.app.app_context():
        context = db.session.scalar(select(CourseContext))
        assert context is not None
        nrps = claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"]
        assert context.nrps_url == nrps["context_memberships_url"]
        assert context.ags_lineitems_url == f"{lms.url}/ags/course-1/lineitems"
        assert context.deployment_id == claims[LTI + "deployment_id"]
