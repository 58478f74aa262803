"""LTI Dynamic Registration 1.0, tool side.

The platform opens ``/lti/register?openid_configuration=...&registration_token=...``
(§3.3); the tool reads the platform's OpenID configuration (§3.4), checks its issuer
against the URL it came from (§3.5.1), posts its own registration (§3.6, with the
fields Moodle requires), and stores the platform and the deployment the platform
created (§3.6.2, ``deployment_id`` in the tool configuration of the response).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.bounded_http import read_bounded
from lti_tool.exceptions import PlatformError, RegistrationFailed
from lti_tool.models.platform import Platform
from lti_tool.platforms import save_platform
from lti_tool.service_client import origin
from xapi import json_text

log = logging.getLogger(__name__)

TIMEOUT = 10  # seconds for each call to the platform, its answer read whole
MAX_ANSWER_BYTES = 1024 * 1024  # a configuration or a registration is a few kilobytes
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email", "locale")
REQUIRED_CONFIGURATION = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
)


def _http_url(value: Any) -> bool:
    return (
        isinstance(value, str) and origin(value)[0] in {"https", "http"} and bool(origin(value)[1])
    )


def private_hosts_allowed(base_url: str, setting: bool | None) -> bool:
    """Whether platforms on private addresses may register: as set, or else (None)
    only when the tool itself runs on one (a trial beside a local Moodle)."""
    if setting is not None:
        return setting
    host = urlsplit(base_url).hostname or ""
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


def check_reachable_address(url: str, allow_private: bool) -> None:
    """The platform must be on the public internet unless ``allow_private``: the page
    that starts a registration is open to anyone, and would otherwise make the tool
    read (and report on) addresses of its own network, itself included."""
    host = urlsplit(url).hostname or ""
    if allow_private:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        raise RegistrationFailed(f"The platform's host {host!r} cannot be found.") from None
    if not all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        raise RegistrationFailed(
            f"The platform's host {host!r} is not a public address; an administrator "
            "can allow private ones with LTI_TOOL_REGISTRATION_PRIVATE_HOSTS=true."
        )


def _json_answer(response: requests.Response, what: str) -> Any:
    try:
        return json_text.loads(response.text)
    except ValueError as error:
        raise RegistrationFailed(f"{what} is not JSON.") from error


def fetch_platform_configuration(
    url: str, token: str | None, allow_private: bool = False
) -> dict[str, Any]:
    if not _http_url(url):
        raise RegistrationFailed("openid_configuration must be an http(s) URL.")
    check_reachable_address(url, allow_private)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        # No redirects: the configuration is read where the platform said it is.
        response = requests.get(
            url, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True
        )
        read_bounded(response, max_bytes=MAX_ANSWER_BYTES, seconds=TIMEOUT)
    except requests.RequestException as error:
        raise RegistrationFailed(
            f"The platform's configuration could not be read ({type(error).__name__})."
        ) from error
    if response.status_code != 200:
        raise RegistrationFailed(
            f"The platform's configuration answered HTTP {response.status_code}."
        )
    configuration = _json_answer(response, "The platform's configuration")
    if not isinstance(configuration, dict):
        raise RegistrationFailed("The platform's configuration is not a JSON object.")
    return configuration


def _under(url: str, issuer: str) -> bool:
    """``url`` is at ``issuer`` or below it, on a path boundary (§3.5.1): an issuer
    ``https://h/moodle`` does not cover ``https://h/moodle-evil/...``."""
    if origin(url) != origin(issuer):
        return False
    issuer_path = urlsplit(issuer).path.rstrip("/")
    path = urlsplit(url).path
    return path == issuer_path or path.startswith(issuer_path + "/")


def check_platform_configuration(configuration: dict[str, Any], url: str) -> None:
    missing = [k for k in REQUIRED_CONFIGURATION if not _http_url(configuration.get(k))]
    if missing:
        raise RegistrationFailed("The platform's configuration lacks " + ", ".join(missing) + ".")
    issuer = configuration["issuer"]
    # §3.5.1: the issuer and the configuration URL must belong together; an issuer
    # on another origin than the configuration would let any site claim any issuer.
    if not _under(url, issuer):
        raise RegistrationFailed(
            "The platform's issuer does not match the address its configuration came from."
        )
    if origin(issuer)[0] == "https":
        downgraded = [k for k in REQUIRED_CONFIGURATION if origin(configuration[k])[0] != "https"]
        if downgraded:
            raise RegistrationFailed(
                "The platform's issuer is https but not its " + ", ".join(downgraded) + "."
            )
    audience = configuration.get("authorization_server")
    if audience is not None and not isinstance(audience, str):
        raise RegistrationFailed("The platform's authorization_server is not a string.")
    methods = configuration.get("token_endpoint_auth_methods_supported")
    if isinstance(methods, list) and "private_key_jwt" not in methods:
        raise RegistrationFailed("The platform does not accept private_key_jwt client auth.")
    if not isinstance(configuration.get(PLATFORM_CONFIGURATION), dict):
        raise RegistrationFailed("The platform's configuration is not an LTI platform's.")


def _registered(session: Session, issuer: str, client_id: str) -> bool:
    found = session.scalar(
        select(Platform.id).where(
            Platform.issuer == issuer.strip(), Platform.client_id == client_id
        )
    )
    return found is not None


def tool_registration(base_url: str, tool_name: str, description: str = "") -> dict[str, Any]:
    """The tool's client registration request (§3.6.1; Moodle's required fields)."""
    launch = f"{base_url}/lti/launch"
    domain = urlsplit(base_url).netloc  # host with port: Moodle compares it to launch's
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base_url}/lti/login",
        "redirect_uris": [launch],
        "client_name": tool_name,
        "jwks_uri": f"{base_url}/lti/jwks",
        "logo_uri": f"{base_url}/static/lti/icon.svg",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": domain,
            "description": description or tool_name,
            "target_link_uri": launch,
            "claims": list(CLAIMS),
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": launch},
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": launch,
                    "label": tool_name,
                    "placements": ["ContentArea"],
                },
            ],
        },
    }


def register(
    session: Session,
    *,
    openid_configuration: str,
    registration_token: str | None,
    base_url: str,
    tool_name: str,
    auto_activate: bool,
    allow_private: bool = False,
) -> Platform:
    configuration = fetch_platform_configuration(
        openid_configuration, registration_token, allow_private
    )
    check_platform_configuration(configuration, openid_configuration)
    check_reachable_address(configuration["registration_endpoint"], allow_private)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        response = requests.post(
            configuration["registration_endpoint"],
            json=tool_registration(base_url, tool_name),
            headers=headers,
            timeout=TIMEOUT,
            allow_redirects=False,
            stream=True,
        )
        read_bounded(response, max_bytes=MAX_ANSWER_BYTES, seconds=TIMEOUT)
    except requests.RequestException as error:
        raise RegistrationFailed(
            f"The platform's registration endpoint could not be reached ({type(error).__name__})."
        ) from error
    if response.status_code not in (200, 201):
        raise RegistrationFailed(
            f"The platform refused the registration (HTTP {response.status_code})."
        )
    answer = _json_answer(response, "The platform's registration answer")
    client_id = answer.get("client_id") if isinstance(answer, dict) else None
    if not isinstance(client_id, str) or not client_id.isprintable() or not client_id.strip():
        raise RegistrationFailed("The platform's registration answer has no client_id.")
    tool_config = answer.get(TOOL_CONFIGURATION) or {}
    deployment_id = tool_config.get("deployment_id") if isinstance(tool_config, dict) else None
    if deployment_id is not None and not isinstance(deployment_id, str | int):
        raise RegistrationFailed("The platform's deployment_id is neither text nor a number.")
    product = configuration[PLATFORM_CONFIGURATION].get("product_family_code") or ""
    if not isinstance(product, str):
        raise RegistrationFailed("The platform's product_family_code is not text.")
    if _registered(session, configuration["issuer"], client_id):
        # Re-pointing a registration's keys and endpoints would hand its launches to
        # whoever answered: an administrator removes the old one first.
        raise RegistrationFailed(
            f"This platform already registered the tool as client {client_id!r}: remove that "
            "registration first (lti-tool platform remove)."
        )
    try:
        platform, _ = save_platform(
            session,
            issuer=configuration["issuer"],
            client_id=client_id,
            auth_login_url=configuration["authorization_endpoint"],
            auth_token_url=configuration["token_endpoint"],
            key_set_url=configuration["jwks_uri"],
            deployment_ids=[str(deployment_id)] if deployment_id else [],
            name=str(product),
            auth_audience=configuration.get("authorization_server"),
            active=auto_activate,
        )
    except PlatformError as error:
        raise RegistrationFailed(str(error)) from error
    log.info(
        "Dynamic registration: issuer %s, client %s, deployment %s, %s",
        platform.issuer,
        client_id,
        deployment_id,
        "active" if platform.active else "pending activation",
    )
    return platform
