"""Mastery rules: from a learner's evidence for one competency to a state, as plain functions.

The rules, as a trainer reads them
----------------------------------
* Each piece of evidence is one xAPI statement counted for the competency. It is put
  in order by **when it happened** (the statement's timestamp), never by when the tool
  received it; two pieces at the same instant are ordered by statement id.
* A piece of evidence is **judged** when it says whether the learner succeeded:
  ``result.success`` when the activity gives it (it always outranks the score), else the
  scaled score compared with the mastery threshold (``score >= threshold`` is a
  success). In the calculations below a judged piece is worth its scaled score, except
  that an explicit success is worth 100 % and an explicit failure 0 %. A piece with
  neither (e.g. a bare "completed") is counted as evidence but judges nothing.
* With a **validity period**, evidence older than the period (counted back from the
  "as of" time) is ignored, as if it had never happened.
* States: **non acquis** when no evidence counts; **acquis** when the method's rule is
  met; **en cours** otherwise.
* Methods:
  - ``highest``: acquis when the best piece reaches the threshold.
  - ``most_recent``: the latest judged piece decides.
  - ``average``: the plain average of the judged pieces reaches the threshold.
  - ``decaying_average``: each newer piece weighs ``decay_weight`` (65 % by default) and
    everything before it the rest: ``avg = w * newest + (1 - w) * avg(before)``.
  - ``n_mastery``: acquis when at least **N distinct activities** have a success and the
    learner was judged on at least **K distinct activities**; retries of one activity
    count once (its best attempt), so retaking one quiz five times is one success.
* **Conflicting evidence** is flagged, never averaged away: among the last
  ``conflict_window`` judged pieces (3 by default), a failure that comes *after* a
  success. Failing first and succeeding later is learning, not a conflict; succeeding
  and then failing again means the evidence disagrees and a trainer should look. The
  state stays what the method says; the flag travels with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from referentiel.exceptions import ReferentielError


class InvalidRule(ReferentielError):
    """A rule whose settings cannot be applied; the message names the setting."""


class Method(StrEnum):
    HIGHEST = "highest"
    MOST_RECENT = "most_recent"
    AVERAGE = "average"
    DECAYING_AVERAGE = "decaying_average"
    N_MASTERY = "n_mastery"


class State(StrEnum):
    NON_ACQUIS = "non_acquis"
    EN_COURS = "en_cours"
    ACQUIS = "acquis"


@dataclass(frozen=True)
class Rule:
    """How evidence becomes a state for one competency."""

    method: Method = Method.MOST_RECENT
    mastery_threshold: float = 0.5  # on the scaled score, 0..1
    decay_weight: float = 0.65  # decaying_average: weight of the newest piece
    n_successes: int = 2  # n_mastery: N distinct activities with a success
    k_activities: int = 2  # n_mastery: judged on at least K distinct activities
    validity_days: int | None = None  # evidence older than this is ignored
    conflict_window: int = 3  # how many of the latest judged pieces are checked

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "method", Method(self.method))
        except ValueError:
            choices = ", ".join(m.value for m in Method)
            raise InvalidRule(f"unknown method {self.method!r}: choose one of {choices}") from None
        if not 0.0 < self.mastery_threshold <= 1.0:
            raise InvalidRule("mastery_threshold must be above 0 and at most 1")
        if not 0.0 < self.decay_weight < 1.0:
            raise InvalidRule("decay_weight must be strictly between 0 and 1")
        if self.n_successes < 1 or self.k_activities < 1:
            raise InvalidRule("n_successes and k_activities must be at least 1")
        if self.validity_days is not None and self.validity_days < 1:
            raise InvalidRule("validity_days must be at least 1 day, or empty for no limit")
        if self.conflict_window < 2:
            raise InvalidRule("conflict_window must be at least 2")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["method"] = self.method.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Rule | None = None) -> Rule:
        """A rule from stored settings, unknown keys refused; missing ones come from ``base``."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise InvalidRule(f"unknown rule setting(s): {', '.join(sorted(unknown))}")
        try:
            return replace(base or cls(), **dict(data))
        except TypeError as error:  # e.g. a threshold given as text
            raise InvalidRule(f"a rule setting has the wrong type: {error}") from error

    def describe(self) -> str:
        """The rule in one sentence, for trainers."""
        threshold = f"{round(self.mastery_threshold * 100)} %"
        text = {
            Method.HIGHEST: f"best result at least {threshold}",
            Method.MOST_RECENT: f"latest result at least {threshold}",
            Method.AVERAGE: f"average of results at least {threshold}",
            Method.DECAYING_AVERAGE: (
                f"decaying average ({round(self.decay_weight * 100)} % on the newest) "
                f"at least {threshold}"
            ),
            Method.N_MASTERY: (
                f"success (at least {threshold}) in {self.n_successes} distinct activities, "
                f"judged on at least {self.k_activities}"
            ),
        }[self.method]
        if self.validity_days:
            text += f"; evidence older than {self.validity_days} days ignored"
        return text


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence as the rules see it."""

    statement_id: str
    source_activity: str
    occurred_at: datetime
    score_scaled: float | None = None
    success: bool | None = None
    completion: bool | None = None


@dataclass(frozen=True)
class Counted:
    """What the rule made of one piece of evidence, for the explanation."""

    statement_id: str
    source_activity: str
    occurred_at: datetime
    value: float | None  # worth in the calculation; None: judges nothing
    passed: bool | None
    score_scaled: float | None = None
    success: bool | None = None
    threshold: float = 0.5
    reason: str | None = None  # why it does not count, when it does not

    @property
    def note(self) -> str:
        """Why it counts this way (written only for the pieces an explanation lists)."""
        if self.reason is not None:
            return self.reason
        if self.success is not None:
            note = "success reported" if self.success else "failure reported"
            if self.score_scaled is not None:
                note += f" (outranks the score {self.score_scaled:.2f})"
            return note
        if self.score_scaled is not None:
            comparison = ">=" if self.passed else "<"
            return f"score {self.score_scaled:.2f} {comparison} threshold {self.threshold:.2f}"
        return "no score nor success: judges nothing"


# An explanation lists at most this many of the latest pieces counted (and as many
# ignored), with the totals: a state is rewritten at each new piece of evidence, and a
# list of a learner's whole history would make each write grow with it. The evidence
# itself is kept whole; the rules are deterministic, so any piece's part can be shown
# again from it.
EXPLAINED = 50


@dataclass(frozen=True)
class Achievement:
    state: State
    score: float | None
    evidence_count: int  # pieces inside the validity period
    last_evidence_at: datetime | None
    conflicting: bool
    summary: str
    counted: tuple[Counted, ...] = ()
    ignored: tuple[Counted, ...] = ()
    expires_at: datetime | None = None  # when the oldest counted piece leaves the period

    def explanation(self) -> dict[str, Any]:
        """A JSON-ready account of which evidence counted and why."""

        def item(c: Counted) -> dict[str, Any]:
            return {
                "statement_id": c.statement_id,
                "activity": c.source_activity,
                "occurred_at": c.occurred_at.isoformat(),
                "value": c.value,
                "passed": c.passed,
                "note": c.note,
            }

        return {
            "summary": self.summary,
            "conflicting": self.conflicting,
            "counted": [item(c) for c in self.counted[-EXPLAINED:]],
            "ignored": [item(c) for c in self.ignored[-EXPLAINED:]],
            "counted_total": len(self.counted),
            "ignored_total": len(self.ignored),
        }


def _judge(item: EvidenceItem, threshold: float) -> Counted:
    if item.success is not None:
        value: float | None = 1.0 if item.success else 0.0
        passed: bool | None = item.success
    elif item.score_scaled is not None:
        value, passed = item.score_scaled, item.score_scaled >= threshold
    else:
        value = passed = None
    return Counted(
        statement_id=item.statement_id,
        source_activity=item.source_activity,
        occurred_at=item.occurred_at,
        value=value,
        passed=passed,
        score_scaled=item.score_scaled,
        success=item.success,
        threshold=threshold,
    )


def _conflicting(judged: list[Counted], window: int) -> bool:
    seen_success = False
    for c in judged[-window:]:
        if c.passed:
            seen_success = True
        elif seen_success:
            return True
    return False


def evaluate(rule: Rule, evidence: Iterable[EvidenceItem], as_of: datetime) -> Achievement:
    """Apply ``rule`` to one learner's evidence for one competency, as of ``as_of``."""
    ordered = sorted(evidence, key=lambda e: (e.occurred_at, e.statement_id))
    ignored: list[Counted] = []
    kept: list[EvidenceItem] = []
    cutoff = as_of - timedelta(days=rule.validity_days) if rule.validity_days else None
    for item in ordered:
        if cutoff is not None and item.occurred_at < cutoff:
            ignored.append(
                replace(
                    _judge(item, rule.mastery_threshold),
                    reason=f"older than the validity period ({rule.validity_days} days)",
                )
            )
        else:
            kept.append(item)
    counted = [_judge(item, rule.mastery_threshold) for item in kept]
    validity = timedelta(days=rule.validity_days) if rule.validity_days else None
    expires_at = kept[0].occurred_at + validity if validity and kept else None
    last = kept[-1].occurred_at if kept else None
    if not kept:
        return Achievement(
            state=State.NON_ACQUIS,
            score=None,
            evidence_count=0,
            last_evidence_at=None,
            conflicting=False,
            summary="no evidence" + (" within the validity period" if ignored else ""),
            ignored=tuple(ignored),
        )
    judged = [c for c in counted if c.value is not None]
    conflicting = _conflicting(judged, rule.conflict_window)
    met, score, how = _apply_method(rule, judged)
    state = State.ACQUIS if met else State.EN_COURS
    summary = f"{rule.describe()}: {how}"
    if conflicting:
        summary += "; conflicting: a failure came after a success among the latest results"
    return Achievement(
        state=state,
        score=score,
        evidence_count=len(kept),
        last_evidence_at=last,
        conflicting=conflicting,
        summary=summary,
        counted=tuple(counted),
        ignored=tuple(ignored),
        expires_at=expires_at,
    )


def _values(judged: list[Counted]) -> list[float]:
    return [c.value for c in judged if c.value is not None]


def _apply_method(rule: Rule, judged: list[Counted]) -> tuple[bool, float | None, str]:
    """Whether the rule is met, the score it computes and a few words on how."""
    if not judged:
        return False, None, "evidence present but none says success or gives a score"
    threshold = rule.mastery_threshold
    values = _values(judged)
    if rule.method is Method.HIGHEST:
        best = max(judged, key=lambda c: (c.value or 0.0, c.occurred_at))
        return bool(best.passed), best.value, f"best result {best.value:.2f}"
    if rule.method is Method.MOST_RECENT:
        latest = judged[-1]
        return bool(latest.passed), latest.value, f"latest result {latest.value:.2f}"
    if rule.method is Method.AVERAGE:
        avg = sum(values) / len(values)
        return avg >= threshold, avg, f"average {avg:.2f} over {len(values)} results"
    if rule.method is Method.DECAYING_AVERAGE:
        avg = values[0]
        for value in values[1:]:
            avg = rule.decay_weight * value + (1 - rule.decay_weight) * avg
        return avg >= threshold, avg, f"decaying average {avg:.2f} over {len(values)} results"
    # n_mastery: one vote per activity, its best attempt.
    best_per_activity: dict[str, bool] = {}
    for c in judged:
        best_per_activity[c.source_activity] = best_per_activity.get(
            c.source_activity, False
        ) or bool(c.passed)
    successes = sum(best_per_activity.values())
    activities = len(best_per_activity)
    met = successes >= rule.n_successes and activities >= rule.k_activities
    progress = min(1.0, successes / rule.n_successes)
    how = (
        f"{successes} of {rule.n_successes} activities with a success, "
        f"judged on {activities} of {rule.k_activities} activities"
    )
    return met, progress, how


@dataclass(frozen=True)
class RuleSetting:
    """Rules for a framework: a default, then overrides per bloc key and per competency.

    Competency overrides are keyed ``"bloc-key/CODE"``. An override names only the
    settings it changes; the others come from the bloc's rule, then the default.
    """

    default: Rule = field(default_factory=Rule)
    blocs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    competencies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def rule_for(self, bloc_key: str, competency_code: str) -> Rule:
        rule = self.default
        if bloc_key in self.blocs:
            rule = Rule.from_dict(self.blocs[bloc_key], base=rule)
        key = f"{bloc_key}/{competency_code}"
        if key in self.competencies:
            rule = Rule.from_dict(self.competencies[key], base=rule)
        return rule

    def to_dict(self) -> dict[str, Any]:
        return {
            "default": self.default.to_dict(),
            "blocs": {k: dict(v) for k, v in self.blocs.items()},
            "competencies": {k: dict(v) for k, v in self.competencies.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSetting:
        unknown = set(data) - {"default", "blocs", "competencies"}
        if unknown:
            raise InvalidRule(f"unknown rule section(s): {', '.join(sorted(unknown))}")
        setting = cls(
            default=Rule.from_dict(data.get("default") or {}),
            blocs=dict(data.get("blocs") or {}),
            competencies=dict(data.get("competencies") or {}),
        )
        # Validate every override now, not at the first evidence that reaches it.
        for override in setting.blocs.values():
            Rule.from_dict(override, base=setting.default)
        for key in setting.competencies:
            if "/" not in key:
                raise InvalidRule(f"competency override {key!r} must be written 'bloc-key/CODE'")
            bloc_key, code = key.split("/", 1)
            setting.rule_for(bloc_key, code)
        return setting
