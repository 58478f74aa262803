"""Errors of the web and LMS-integration layer."""


class LtiToolError(Exception):
    """Base class: the message is meant for the person who gave the input."""


class ConfigurationError(LtiToolError, ValueError):
    """A setting (an ``LTI_TOOL_*`` variable) has a value the tool cannot use."""


class NotFound(LtiToolError):
    pass


class Forbidden(LtiToolError):
    pass


class LaunchRejected(LtiToolError):
    """An LTI login or launch message the tool refuses; the message says why."""


class PlatformError(LtiToolError):
    """A platform registration cannot be added, found or changed as asked."""


class RegistrationFailed(LtiToolError):
    """LTI Dynamic Registration with a platform did not complete."""


class ServiceError(LtiToolError):
    """An LTI Advantage service (NRPS, AGS) call to the platform failed."""
