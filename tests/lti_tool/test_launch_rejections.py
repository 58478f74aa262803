"""Launches the tool MUST refuse (1EdTech certification and Security Framework §5.1.3),
each with a clear 4xx page that says why, and the ones it MUST accept.

Every token here is minted by the test LMS and posted over HTTP to the live tool,
after a real login on the tool (so state, nonce and cookie are genuine).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import requests

from tests.lms.flow import LaunchFlow
from tests.lms.platform import DL, DROP, LTI, TestPlatform, new_rsa_key

Claims = dict[str, Any]


def login_and_post(
    flow: LaunchFlow,
    lms: TestPlatform,
    change: Claims | None = None,
    *,
    role: str = "learner",
    **mint: Any,
) -> requests.Response:
    claims = lms.claims(role)
    login = flow.start_login(claims)
    claims.update(change or {})
    return flow.post_launch(login, lms.id_token(claims, nonce=login.nonce, **mint))


def assert_refused(response: requests.Response, *fragments: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "Traceback" not in response.text
    for fragment in fragments:
        assert fragment in response.text, response.text


def test_launch_with_bad_signature_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, key=new_rsa_key())
    assert_refused(response, "signature is invalid")


def test_launch_signed_with_alg_none_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, algorithm="none")
    assert_refused(response, "only RS256 is accepted")


def test_launch_signed_with_hs256_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, algorithm="HS256")
    assert_refused(response, "HS256", "only RS256 is accepted")


def test_launch_without_kid_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, header={"kid": DROP})
    assert_refused(response, "header has no kid")


def test_launch_with_unknown_kid_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, header={"kid": "no-such-key"})
    assert_refused(response, "no RS256 key with kid")


def test_login_from_unknown_issuer_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    hint = lms.prepare(lms.claims())
    params = lms.login_parameters(hint) | {"iss": "https://unknown.example"}
    response = requests.get(
        f"{launch_flow.tool_url}/lti/login", params=params, allow_redirects=False, timeout=10
    )
    assert_refused(response, "not registered with the tool")


def test_login_with_unknown_client_id_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    hint = lms.prepare(lms.claims())
    params = lms.login_parameters(hint) | {"client_id": "someone-else"}
    response = requests.get(
        f"{launch_flow.tool_url}/lti/login", params=params, allow_redirects=False, timeout=10
    )
    assert_refused(response, "not registered with the tool")


def test_launch_from_unknown_issuer_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, {"iss": "https://unknown.example"})
    assert_refused(response, "unknown issuer or client id")


def test_launch_for_unregistered_client_id_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(launch_flow, lms, {"aud": "unregistered-client"})
    assert_refused(response, "unknown issuer or client id")


def test_launch_with_unknown_deployment_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(launch_flow, lms, {LTI + "deployment_id": "999"})
    assert_refused(response, "unknown deployment_id")


def test_expired_launch_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    past = int(time.time()) - 3600
    response = login_and_post(launch_flow, lms, {"iat": past, "exp": past + 300})
    assert_refused(response, "has expired")


def test_launch_without_exp_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, {"exp": DROP})
    assert_refused(response, "lacks the required", "exp")


def test_launch_without_iat_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, {"iat": DROP})
    assert_refused(response, "lacks the required", "iat")


def test_launch_issued_in_the_future_beyond_clock_skew_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    future = int(time.time()) + 600
    response = login_and_post(launch_flow, lms, {"iat": future, "exp": future + 300})
    assert_refused(response, "issued in the future")


def test_launch_issued_slightly_in_the_future_within_clock_skew_is_accepted(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    soon = int(time.time()) + 20
    response = login_and_post(launch_flow, lms, {"iat": soon, "exp": soon + 300})
    assert response.status_code == 200, response.text


def test_launch_with_wrong_aud_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    # A token for another tool of the same platform, with our client id as azp.
    response = login_and_post(launch_flow, lms, {"aud": "other-tool", "azp": lms.client_id})
    assert_refused(response, "azp is not one of the token")


def test_launch_with_aud_list_and_no_azp_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(launch_flow, lms, {"aud": [lms.client_id, "other-tool"]})
    assert_refused(response, "several audiences and no azp")


def test_launch_with_aud_list_and_wrong_azp_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(
        launch_flow, lms, {"aud": [lms.client_id, "other-tool"], "azp": "other-tool"}
    )
    assert_refused(response, "unknown issuer or client id")


def test_launch_with_aud_list_and_our_azp_is_accepted(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(
        launch_flow, lms, {"aud": ["other-tool", lms.client_id], "azp": lms.client_id}
    )
    assert response.status_code == 200, response.text


def test_launch_where_aud_is_not_our_client_id_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    # The registration is found by azp, but the audience does not name it.
    response = login_and_post(launch_flow, lms, {"aud": ["a", "b"], "azp": lms.client_id})
    assert_refused(response, "azp is not one of the token")


def test_launch_without_nonce_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    claims = lms.claims()
    login = launch_flow.start_login(claims)
    response = launch_flow.post_launch(login, lms.id_token(claims, nonce=None))
    assert_refused(response, "has no nonce")


def test_launch_with_replayed_nonce_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    claims = lms.claims()
    first = launch_flow.start_login(claims)
    accepted = launch_flow.post_launch(first, lms.id_token(claims, nonce=first.nonce))
    assert accepted.status_code == 200, accepted.text
    # A second login in the same browser, answered with the first (used) nonce.
    second = launch_flow.start_login(claims, browser=first.browser)
    response = launch_flow.post_launch(second, lms.id_token(claims, nonce=first.nonce))
    assert_refused(response, "nonce was already used")


def test_launch_with_a_nonce_never_issued_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    claims = lms.claims()
    login = launch_flow.start_login(claims)
    response = launch_flow.post_launch(login, lms.id_token(claims, nonce="made-up-nonce"))
    assert_refused(response, "nonce was already used or never issued")


def test_replayed_launch_post_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    claims = lms.claims()
    login = launch_flow.start_login(claims)
    token = lms.id_token(claims, nonce=login.nonce)
    assert launch_flow.post_launch(login, token).status_code == 200
    assert_refused(launch_flow.post_launch(login, token), "already used state")


def test_launch_without_state_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    claims = lms.claims()
    login = launch_flow.start_login(claims)
    token = lms.id_token(claims, nonce=login.nonce)
    response = login.browser.post(
        f"{launch_flow.tool_url}/lti/launch", data={"id_token": token}, timeout=10
    )
    assert_refused(response, "state parameter is missing")


def test_launch_with_mismatched_state_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    claims = lms.claims()
    victim = launch_flow.start_login(claims)
    attacker = launch_flow.start_login(claims)  # another browser, its own state cookie
    token = lms.id_token(claims, nonce=attacker.nonce)
    # The attacker's state and token, posted from the victim's browser (login CSRF).
    response = launch_flow.post_launch(victim, token, state=attacker.state)
    assert_refused(response, "state does not match this browser")


def test_launch_with_unknown_state_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    claims = lms.claims()
    login = launch_flow.start_login(claims)
    response = launch_flow.post_launch(
        login, lms.id_token(claims, nonce=login.nonce), state="state-made-up"
    )
    assert_refused(response, "unknown, expired or already used state")


def test_launch_with_a_token_that_is_not_a_three_part_jwt_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    login = launch_flow.start_login(lms.claims())
    response = launch_flow.post_launch(login, "abc.def")
    assert_refused(response, "not a three-part JWT")


def test_launch_without_id_token_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    login = launch_flow.start_login(lms.claims())
    response = launch_flow.post_launch(login, None)
    assert_refused(response, "Missing id_token")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({LTI + "version": DROP}, "LTI version claim is missing"),
        ({LTI + "version": "1.1"}, "1.3.0 is expected"),
    ],
    ids=["missing", "wrong"],
)
def test_launch_with_missing_or_wrong_lti_version_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, change: Claims, reason: str
) -> None:
    assert_refused(login_and_post(launch_flow, lms, change), reason)


def test_launch_without_message_type_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, {LTI + "message_type": DROP})
    assert_refused(response, "message_type claim is missing")


def test_launch_without_roles_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    response = login_and_post(launch_flow, lms, {LTI + "roles": DROP})
    assert_refused(response, "roles claim is missing")


def test_launch_without_deployment_id_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(launch_flow, lms, {LTI + "deployment_id": DROP})
    assert_refused(response, "deployment_id claim is missing")


def test_launch_without_resource_link_id_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(launch_flow, lms, {LTI + "resource_link": {"title": "x"}})
    assert_refused(response, "resource_link id is missing")


@pytest.mark.parametrize("sub", [DROP, ""], ids=["missing", "empty"])
def test_launch_without_sub_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, sub: Any
) -> None:
    response = login_and_post(launch_flow, lms, {"sub": sub})
    assert_refused(response, "sub claim is missing or empty")


def test_launch_with_unsupported_message_type_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(launch_flow, lms, {LTI + "message_type": "LtiStartProctoring"})
    assert_refused(response, "unsupported message type")


def test_refusal_is_logged_with_its_reason_and_without_the_token(
    launch_flow: LaunchFlow, lms: TestPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    claims = lms.claims()
    login = launch_flow.start_login(claims)
    token = lms.id_token(claims, nonce=login.nonce, key=new_rsa_key())
    assert_refused(launch_flow.post_launch(login, token), "signature is invalid")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "signature is invalid" in logged
    assert token not in logged and token.split(".")[1] not in logged
    assert "ada@example.org" not in logged and "Lovelace" not in logged


# -- claims of the wrong shape (LTI 1.3 Core §5.3, §5.4; Deep Linking 2.0 §4.4.1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({LTI + "launch_presentation": "iframe"}, "launch_presentation is not a JSON object"),
        ({LTI + "context": ["course-1"]}, "context is not a JSON object"),
        ({LTI + "custom": "framework=x"}, "custom is not a JSON object"),
        (
            {LTI + "launch_presentation": {"return_url": "javascript:alert(1)"}},
            "return_url is not an http(s) URL",
        ),
        ({"sub": "u" * 256}, "sub claim is longer than 255"),
        ({"sub": 42}, "must be a string"),
        ({LTI + "context": {"id": "c" * 256}}, "context id is not a string of at most 255"),
        ({LTI + "resource_link": {"id": "r" * 256}}, "resource_link id is not a string"),
        ({LTI + "deployment_id": ["1"]}, "deployment_id claim is not a string"),
        ({LTI + "deployment_id": 1}, "deployment_id claim is not a string"),
        ({LTI + "deployment_id": "d" * 256}, "not a string of at most 255 characters"),
        ({"name": "Ada \ud83d"}, "holds a lone surrogate"),
        ({LTI + "context": {"id": "course-1", "title": "x\udfff"}}, "holds a lone surrogate"),
        ({"name": "Ada\u0000"}, "holds a NUL character"),
    ],
    ids=[
        "presentation-string",
        "context-list",
        "custom-string",
        "return-url-javascript",
        "sub-too-long",
        "sub-number",
        "context-id-too-long",
        "link-id-too-long",
        "deployment-id-list",
        "deployment-id-number",
        "deployment-id-too-long",
        "name-lone-surrogate",
        "context-title-lone-surrogate",
        "name-nul",
    ],
)
def test_launch_with_a_claim_of_the_wrong_shape_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, change: Claims, reason: str
) -> None:
    assert_refused(login_and_post(launch_flow, lms, change), reason)


def test_launch_with_a_255_character_sub_is_accepted(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    response = login_and_post(launch_flow, lms, {"sub": "u" * 255})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ("https://lms.example/return", "deep_linking_settings is not a JSON object"),
        ({"deep_link_return_url": "javascript:alert(1)"}, "not an http(s) URL"),
        ({"deep_link_return_url": "data:text/html,x"}, "not an http(s) URL"),
        ({"deep_link_return_url": ["https://lms.example"]}, "not an http(s) URL"),
        ({"accept_types": "ltiResourceLink"}, "accept_types is not a list"),
    ],
    ids=["string", "javascript-url", "data-url", "url-list", "accept-types-string"],
)
def test_deep_linking_request_with_bad_settings_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, settings: Any, reason: str
) -> None:
    claims = lms.claims("instructor", message_type="LtiDeepLinkingRequest")
    login = launch_flow.start_login(claims)
    if isinstance(settings, dict):
        settings = claims[DL + "deep_linking_settings"] | settings
    claims[DL + "deep_linking_settings"] = settings
    response = launch_flow.post_launch(login, lms.id_token(claims, nonce=login.nonce))
    assert_refused(response, reason)
    assert "javascript:" not in response.text and "data:text" not in response.text


# -- what the certification requires a tool to accept


def test_launch_without_name_or_email_is_accepted(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    page = launch_flow.launch("learner", name=None, email=None)
    assert page.status_code == 200, page.text


def test_launch_with_unknown_roles_is_accepted_as_learner(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    page = launch_flow.launch(roles=["http://example.org/roles#Astronaut"])
    assert page.status_code == 200, page.text
    assert "/learner/" in page.url


def test_launch_with_no_roles_at_all_is_accepted_as_learner(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    page = launch_flow.launch(roles=[])
    assert page.status_code == 200 and "/learner/" in page.url


def test_launch_with_several_roles_takes_the_most_privileged(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    roles = lms.claims("learner")[LTI + "roles"] + lms.claims("instructor")[LTI + "roles"]
    page = launch_flow.launch(roles=roles)
    assert page.status_code == 200 and "/trainer/" in page.url


def test_launch_without_context_claim_is_accepted(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    page = launch_flow.launch("learner", context=None)
    assert page.status_code == 200, page.text
    assert 'data-testid="outside-course"' in page.text
