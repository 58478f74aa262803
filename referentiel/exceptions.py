"""Errors of the référentiel domain; the web and CLI edges translate them."""


class ReferentielError(Exception):
    """Base class: the message is meant for the person who gave the input."""


class ReferentielNotFound(ReferentielError):
    pass


class InvalidReferentiel(ReferentielError):
    """A data file, CSV or XML that cannot be loaded; the message names where."""
