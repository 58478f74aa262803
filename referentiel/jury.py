"""The jury rule, as plain functions.

The référentiel has every bloc assessed by a pair of professional jurors, one of them
external to the training centre. Automation only makes a bloc *prêt pour le jury*; a
decision (validated or not, for a bloc, optionally for one competency) exists when:

* at least **two distinct jurors** signed off (the same juror signing twice is one
  juror: jurors are told apart by their identifier, ignoring case and spaces);
* at least **one of them is external** to the training centre (two internal jurors are
  not enough);
* they **agree**: when sign-offs disagree there is no decision yet, and the panel is
  reported as split.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from referentiel.exceptions import ReferentielError


class JuryRuleError(ReferentielError):
    """A sign-off that cannot be recorded as given (missing juror, unknown decision...)."""


class Decision(StrEnum):
    VALIDATED = "validated"
    NOT_VALIDATED = "not_validated"


@dataclass(frozen=True)
class SignOff:
    juror_id: str
    juror_name: str
    external: bool
    decision: Decision
    signed_at: datetime
    comment: str = ""

    def __post_init__(self) -> None:
        if not self.juror_id.strip():
            raise JuryRuleError("a sign-off needs the juror's identifier")
        if not self.juror_name.strip():
            raise JuryRuleError("a sign-off needs the juror's name")
        try:
            object.__setattr__(self, "decision", Decision(self.decision))
        except ValueError:
            raise JuryRuleError(
                f"unknown decision {self.decision!r}: 'validated' or 'not_validated'"
            ) from None

    @property
    def juror_key(self) -> str:
        return "".join(self.juror_id.split()).casefold()


@dataclass(frozen=True)
class PanelCheck:
    """Whether the sign-offs make a decision, and if not, what is missing."""

    decision: Decision | None
    problems: tuple[str, ...]
    jurors: int
    external_jurors: int

    @property
    def decided(self) -> bool:
        return self.decision is not None


def latest_per_juror(signoffs: Iterable[SignOff]) -> list[SignOff]:
    """One sign-off per juror, their latest: a juror who signs again changes their mind."""
    latest: dict[str, SignOff] = {}
    for signoff in sorted(signoffs, key=lambda s: s.signed_at):
        latest[signoff.juror_key] = signoff
    return list(latest.values())


def check_panel(signoffs: Iterable[SignOff]) -> PanelCheck:
    """Apply the jury rule to the sign-offs gathered for one bloc (or competency)."""
    panel = latest_per_juror(signoffs)
    externals = sum(1 for s in panel if s.external)
    problems: list[str] = []
    if len(panel) < 2:
        problems.append(f"two distinct jurors must sign off ({len(panel)} so far)")
    if externals < 1:
        problems.append("at least one juror must be external to the training centre")
    decisions = {s.decision for s in panel}
    if len(decisions) > 1:
        problems.append("the jurors disagree: no decision until they agree")
    decision = next(iter(decisions)) if not problems and decisions else None
    return PanelCheck(
        decision=decision, problems=tuple(problems), jurors=len(panel), external_jurors=externals
    )
