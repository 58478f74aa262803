"""Errors of the xAPI package; the web layer maps each to its HTTP status (xAPI 1.0.3
Communication §3.2) in ``lti_tool/errors.py``."""


class XapiError(Exception):
    """Base class: the message tells the client what to fix."""


class InvalidStatement(XapiError):
    """A statement breaks a MUST of the xAPI data model (400)."""


class BadRequest(XapiError):
    """A request the Statements resource cannot act on: parameters, headers, body (400)."""


class Unauthorized(XapiError):
    """No credentials, unknown key, wrong secret or a revoked credential (401)."""


class ForbiddenStatement(XapiError):
    """A credential tried to record statements it is not allowed to (403)."""


class StatementConflict(XapiError):
    """The statement id is already stored with other content (409)."""


class StatementNotFound(XapiError):
    """No such statement (404)."""


class DocumentNotFound(XapiError):
    """No such document in the State, Activity Profile or Agent Profile resource (404)."""


class DocumentConflict(XapiError):
    """A PUT would replace a profile document without a precondition header (409)."""


class PreconditionFailed(XapiError):
    """If-Match or If-None-Match does not hold for the document (412)."""


class CredentialNotFound(XapiError):
    """No credential with that key (CLI: one line, exit 1)."""


class InvalidCredential(XapiError):
    """A credential that cannot be created as asked (its name or platform)."""


class PullError(XapiError):
    """The remote LRS could not be read (network, status, body)."""


class MappingRuleError(XapiError):
    """A mapping rule that cannot be added or removed; the message says why."""


class MappingRuleNotFound(MappingRuleError):
    pass
