"""pylti1p3's tool configuration read from the database (``platform``, ``deployment``).

Several platforms, and several client ids per issuer (LTI 1.3 Core §5.1.1.1): the
registration is always looked up by issuer *and* client id, falling back on the
issuer alone only when it has exactly one active registration (a login request
may omit ``client_id``).
"""

from __future__ import annotations

from typing import Any

from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import keys
from lti_tool.models.platform import Deployment, Platform


class ToolRegistration(Registration):
    """A registration signing with the tool's current key, announced by its kid.

    pylti1p3 derives the kid from the PEM (and finds none); platforms such as
    Moodle pick the verification key by kid, so the stored one is used.
    """

    def __init__(self, platform: Platform, kid: str, private_pem: str, jwks: list[Any]) -> None:
        self.platform_id = platform.id
        self._kid = kid
        self._jwks = jwks
        (
            self.set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_key_set_url(platform.key_set_url)
            .set_tool_private_key(private_pem)
        )
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)

    def get_kid(self) -> str:
        return self._kid

    def get_jwks(self) -> list[Any]:
        return self._jwks


def registration_for(session: Session, platform: Platform) -> ToolRegistration:
    key = keys.signing_key(session)
    return ToolRegistration(
        platform, key.kid, key.private_pem, keys.published_jwks(session)["keys"]
    )


def active_platforms(session: Session, issuer: str) -> list[Platform]:
    query = (
        select(Platform)
        .where(Platform.issuer == issuer, Platform.active.is_(True))
        .order_by(Platform.id)
    )
    return list(session.scalars(query))


def find_platform(session: Session, issuer: str, client_id: str | None) -> Platform | None:
    """The active registration for this issuer and client id (or the only one)."""
    platforms = active_platforms(session, issuer)
    if client_id:
        return next((p for p in platforms if p.client_id == client_id), None)
    return platforms[0] if len(platforms) == 1 else None


class DatabaseToolConf(ToolConfAbstract[Any]):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self.platform: Platform | None = None  # the one the last lookup found

    def check_iss_has_one_client(self, iss: str) -> bool:
        # The base class keeps a class-level dict (shared, process memory): always
        # look up by issuer and client id instead.
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _registration(self, platform: Platform | None) -> Registration | None:
        self.platform = platform
        return registration_for(self._session, platform) if platform else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return self._registration(find_platform(self._session, iss, None))  # type: ignore[return-value]

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration:
        return self._registration(find_platform(self._session, iss, client_id))  # type: ignore[return-value]

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)  # type: ignore[arg-type]

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = find_platform(self._session, iss, client_id)
        if platform is None:
            return None
        row = self._session.scalar(
            select(Deployment).where(
                Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
            )
        )
        return LtiDeployment().set_deployment_id(deployment_id) if row else None

    def get_jwks(
        self, iss: str | None = None, client_id: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Every unretired tool key, whatever the platform (they all verify the same keys)."""
        return keys.published_jwks(self._session)
