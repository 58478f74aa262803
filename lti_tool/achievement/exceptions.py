"""Errors of achievement persistence, gradebook sync and delivery."""

from lti_tool.exceptions import LtiToolError


class AchievementError(LtiToolError):
    """The message is meant for the trainer or admin who gave the input."""


class OverrideReasonMissing(AchievementError):
    pass


class DeliveryError(LtiToolError):
    """A delivery attempt failed; ``retryable`` says whether to try again later."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
