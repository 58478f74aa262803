"""Errors of the web and LMS-integration layer."""


class LtiToolError(Exception):
    """Base class: the message is meant for the person who gave the input."""


class NotFound(LtiToolError):
    pass


class Forbidden(LtiToolError):
    pass
