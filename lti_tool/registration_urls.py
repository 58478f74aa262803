"""The URLs an LMS administrator copies into the platform to register the tool by hand."""

from __future__ import annotations


def registration_urls(base_url: str) -> dict[str, str]:
    return {
        "Dynamic registration URL": f"{base_url}/lti/register",
        "Login (OIDC initiation) URL": f"{base_url}/lti/login",
        "Redirect / launch URL": f"{base_url}/lti/launch",
        "Deep linking URL": f"{base_url}/lti/launch",
        "Public keyset (JWKS) URL": f"{base_url}/lti/jwks",
    }
