"""Errors of the xAPI intake; the web and CLI edges translate them."""


class XapiError(Exception):
    """Base class: the message is meant for the person who gave the input."""


class MappingRuleError(XapiError):
    """A mapping rule that cannot be added or removed; the message says why."""


class MappingRuleNotFound(MappingRuleError):
    pass
