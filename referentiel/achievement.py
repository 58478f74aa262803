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

import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from referentiel.exceptions import ReferentielError


class InvalidRule(ReferentielError):
    """A rule whose settings cannot be applied; the message names the setting."""


# Bounds of the integer settings: beyond them a setting means nothing a trainer wants,
# and it would overflow a date (validity_days) or a database integer.
MAX_VALIDITY_DAYS = 36_500  # a hundred years
MAX_ACTIVITIES = 1_000  # n_successes, k_activities: distinct activities of one competency
MAX_CONFLICT_WINDOW = 100  # judged results checked; each state's tally keeps that many


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
            raise InvalidRule(
                f"unknown method {_shown(self.method)}: choose one of {choices}"
            ) from None
        _check_number("mastery_threshold", self.mastery_threshold)
        if not 0.0 < self.mastery_threshold <= 1.0:
            raise InvalidRule("mastery_threshold must be above 0 and at most 1")
        _check_number("decay_weight", self.decay_weight)
        if not 0.0 < self.decay_weight < 1.0:
            raise InvalidRule("decay_weight must be strictly between 0 and 1")
        _check_whole("n_successes", self.n_successes, 1, MAX_ACTIVITIES)
        _check_whole("k_activities", self.k_activities, 1, MAX_ACTIVITIES)
        if self.validity_days is not None:
            _check_whole("validity_days", self.validity_days, 1, MAX_VALIDITY_DAYS, " (or null)")
        _check_whole("conflict_window", self.conflict_window, 2, MAX_CONFLICT_WINDOW)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["method"] = self.method.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Rule | None = None) -> Rule:
        """A rule from stored settings, unknown keys refused; missing ones come from ``base``."""
        if not isinstance(data, Mapping):
            raise InvalidRule(f"rule settings must be a JSON object, not {_shown(data)}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidRule(f"unknown rule setting(s): {', '.join(map(repr, sorted(unknown)))}")
        return replace(base or cls(), **dict(data))

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


def _shown(value: Any) -> str:
    """A setting's value for a message: short, and never a deep structure's repr."""
    if isinstance(value, Mapping | list):
        return "an object" if isinstance(value, Mapping) else "an array"
    if value is None or isinstance(value, bool):
        return json.dumps(value)  # null, true, false: as the JSON file says it
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRule(f"{name} must be a number, not {_shown(value)}")


def _check_whole(name: str, value: Any, low: int, high: int, alternative: str = "") -> None:
    # bool is an int to Python, and 2.0 passes a comparison: both refused.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRule(
            f"{name} must be a whole number from {low} to {high}{alternative}, not {_shown(value)}"
        )


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
    # The explanation entry it was read back from (Tally.from_json), written again as
    # it is rather than rebuilt: a state rewrites its twenty listed pieces at each new
    # piece of evidence. Not an argument, so that ``replace`` never carries it over to
    # a piece that says something else.
    listed_as: Mapping[str, Any] | None = field(default=None, init=False, compare=False, repr=False)

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
EXPLAINED = 20


@dataclass(frozen=True)
class Achievement:
    state: State
    score: float | None
    evidence_count: int  # pieces inside the validity period
    last_evidence_at: datetime | None
    conflicting: bool
    summary: str
    counted: tuple[Counted, ...] = ()  # the latest EXPLAINED of them
    ignored: tuple[Counted, ...] = ()
    expires_at: datetime | None = None  # when the oldest counted piece leaves the period
    tally: Tally | None = None  # to add later pieces to (see evaluate_more)

    def explanation(self) -> dict[str, Any]:
        """A JSON-ready account of which evidence counted and why."""

        def item(c: Counted) -> dict[str, Any]:
            if c.listed_as is not None:
                shown = c.listed_as
                return {key: shown[key] for key in _EXPLAINED_KEYS}
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
            "counted_total": self.evidence_count,
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


@dataclass
class Tally:
    """The rules as a fold over a pair's evidence in order: all that the methods, the
    conflict check and the explanation need of the history. Small and kept with the
    state, so that evidence that comes after it is added without reading the rest
    again (:func:`evaluate_more`); :func:`evaluate` folds the whole history the same
    way, so both give the same state."""

    count: int = 0
    last: tuple[datetime, str] | None = None  # (occurred_at, statement id) of the latest
    judged: int = 0
    total: float = 0.0  # of the judged values (average)
    decayed: float | None = None  # decaying average so far
    best: Counted | None = None  # highest (value, then the later)
    latest: Counted | None = None  # the latest judged
    recent: list[bool] = field(default_factory=list)  # passed, latest judged, window
    per_activity: dict[str, bool] = field(default_factory=dict)  # a success in each?
    # The latest EXPLAINED; stored in the state's explanation, not in the tally's JSON.
    listed: list[Counted] = field(default_factory=list)

    def add(self, c: Counted, rule: Rule) -> None:
        self.count += 1
        self.last = (c.occurred_at, c.statement_id)
        self.listed.append(c)
        del self.listed[:-EXPLAINED]
        if c.value is None:
            return
        self.judged += 1
        self.total += c.value
        w = rule.decay_weight
        self.decayed = c.value if self.decayed is None else w * c.value + (1 - w) * self.decayed
        if self.best is None or (c.value, c.occurred_at) > (self.best.value, self.best.occurred_at):
            self.best = c
        self.latest = c
        self.recent.append(bool(c.passed))
        del self.recent[: -rule.conflict_window]
        activity = c.source_activity
        self.per_activity[activity] = self.per_activity.get(activity, False) or bool(c.passed)

    def conflicting(self) -> bool:
        """A failure after a success among the latest judged pieces."""
        seen_success = False
        for passed in self.recent:
            if passed:
                seen_success = True
            elif seen_success:
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        def piece(c: Counted | None) -> dict[str, Any] | None:
            if c is None:
                return None
            return {
                "statement_id": c.statement_id,
                "source_activity": c.source_activity,
                "occurred_at": c.occurred_at.isoformat(),
                "value": c.value,
                "passed": c.passed,
                "score_scaled": c.score_scaled,
                "success": c.success,
                "threshold": c.threshold,
                "reason": c.reason,
            }

        return {
            "count": self.count,
            "last": [self.last[0].isoformat(), self.last[1]] if self.last else None,
            "judged": self.judged,
            "total": self.total,
            "decayed": self.decayed,
            "best": piece(self.best),
            "latest": piece(self.latest),
            "recent": self.recent,
            "per_activity": self.per_activity,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], explanation: Mapping[str, Any]) -> Tally:
        """The tally ``to_json`` wrote, its listed pieces taken back from the
        ``explanation`` written with it (kept once, not twice, in a state)."""

        def piece(d: Mapping[str, Any] | None) -> Counted | None:
            if d is None:
                return None
            return Counted(**{**d, "occurred_at": datetime.fromisoformat(d["occurred_at"])})

        last = data["last"]
        return cls(
            count=data["count"],
            last=(datetime.fromisoformat(last[0]), last[1]) if last else None,
            judged=data["judged"],
            total=data["total"],
            decayed=data["decayed"],
            best=piece(data["best"]),
            latest=piece(data["latest"]),
            recent=list(data["recent"]),
            per_activity=dict(data["per_activity"]),
            listed=[_listed_piece(item) for item in explanation.get("counted", ())],
        )


# What an explanation writes of a piece (Achievement.explanation), in its order.
_EXPLAINED_KEYS = ("statement_id", "activity", "occurred_at", "value", "passed", "note")
_COUNTED_DEFAULTS = {f.name: f.default for f in fields(Counted) if f.default is not MISSING}


def _listed_piece(item: Mapping[str, Any]) -> Counted:
    """A piece as an explanation listed it (its note read back as its reason).

    Built without the frozen dataclass's ``__init__``, which sets each field through
    ``object.__setattr__``: a state restores twenty pieces for each new piece of
    evidence, and that was most of the cost of adding it. Counted has no
    ``__post_init__``, so nothing is skipped.
    """
    piece = object.__new__(Counted)
    piece.__dict__.update(
        _COUNTED_DEFAULTS,
        statement_id=item["statement_id"],
        source_activity=item["activity"],
        occurred_at=datetime.fromisoformat(item["occurred_at"]),
        value=item["value"],
        passed=item["passed"],
        reason=item["note"],
        listed_as=item,
    )
    return piece


def _in_order(evidence: Iterable[EvidenceItem]) -> list[EvidenceItem]:
    return sorted(evidence, key=lambda e: (e.occurred_at, e.statement_id))


def evaluate(rule: Rule, evidence: Iterable[EvidenceItem], as_of: datetime) -> Achievement:
    """Apply ``rule`` to one learner's evidence for one competency, as of ``as_of``."""
    ignored: list[Counted] = []
    kept: list[EvidenceItem] = []
    cutoff = as_of - timedelta(days=rule.validity_days) if rule.validity_days else None
    for item in _in_order(evidence):
        if cutoff is not None and item.occurred_at < cutoff:
            ignored.append(
                replace(
                    _judge(item, rule.mastery_threshold),
                    reason=f"older than the validity period ({rule.validity_days} days)",
                )
            )
        else:
            kept.append(item)
    tally = Tally()
    for item in kept:
        tally.add(_judge(item, rule.mastery_threshold), rule)
    validity = timedelta(days=rule.validity_days) if rule.validity_days else None
    expires_at = kept[0].occurred_at + validity if validity and kept else None
    return _achievement(rule, tally, tuple(ignored), expires_at)


def evaluate_more(rule: Rule, tally: Tally, evidence: Iterable[EvidenceItem]) -> Achievement | None:
    """The state once more evidence is added to ``tally`` (what :func:`evaluate` kept
    of a history under this same rule; it is added to), or None when only the whole
    history can tell: the rule has a validity period (pieces leave it as time passes),
    or a new piece does not come after every piece already counted (order matters to
    most methods)."""
    if rule.validity_days:
        return None
    more = _in_order(evidence)
    if (
        more
        and tally.last is not None
        and (more[0].occurred_at, more[0].statement_id) <= tally.last
    ):
        return None
    for item in more:
        tally.add(_judge(item, rule.mastery_threshold), rule)
    return _achievement(rule, tally, (), None)


def _achievement(
    rule: Rule, tally: Tally, ignored: tuple[Counted, ...], expires_at: datetime | None
) -> Achievement:
    if not tally.count:
        return Achievement(
            state=State.NON_ACQUIS,
            score=None,
            evidence_count=0,
            last_evidence_at=None,
            conflicting=False,
            summary="no evidence" + (" within the validity period" if ignored else ""),
            ignored=ignored,
            tally=tally,
        )
    conflicting = tally.conflicting()
    met, score, how = _apply_method(rule, tally)
    summary = f"{rule.describe()}: {how}"
    if conflicting:
        summary += "; conflicting: a failure came after a success among the latest results"
    return Achievement(
        state=State.ACQUIS if met else State.EN_COURS,
        score=score,
        evidence_count=tally.count,
        last_evidence_at=tally.last[0] if tally.last else None,
        conflicting=conflicting,
        summary=summary,
        counted=tuple(tally.listed),
        ignored=ignored,
        expires_at=expires_at,
        tally=tally,
    )


def _apply_method(rule: Rule, tally: Tally) -> tuple[bool, float | None, str]:
    """Whether the rule is met, the score it computes and a few words on how."""
    if not tally.judged or tally.best is None or tally.latest is None:
        return False, None, "evidence present but none says success or gives a score"
    threshold = rule.mastery_threshold
    if rule.method is Method.HIGHEST:
        best = tally.best
        return bool(best.passed), best.value, f"best result {best.value:.2f}"
    if rule.method is Method.MOST_RECENT:
        latest = tally.latest
        return bool(latest.passed), latest.value, f"latest result {latest.value:.2f}"
    if rule.method is Method.AVERAGE:
        avg = tally.total / tally.judged
        return avg >= threshold, avg, f"average {avg:.2f} over {tally.judged} results"
    if rule.method is Method.DECAYING_AVERAGE:
        avg = tally.decayed if tally.decayed is not None else 0.0
        return avg >= threshold, avg, f"decaying average {avg:.2f} over {tally.judged} results"
    # n_mastery: one vote per activity, its best attempt.
    successes = sum(tally.per_activity.values())
    activities = len(tally.per_activity)
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
        """Rules from JSON, every section and override checked now, not at the first
        evidence that reaches it; the message names the section or override."""
        sections = _section(data, "the rules")
        unknown = set(sections) - {"default", "blocs", "competencies"}
        if unknown:
            raise InvalidRule(f"unknown rule section(s): {', '.join(map(repr, sorted(unknown)))}")
        default = _rule(sections.get("default", {}), "default", base=None)
        blocs = dict(_section(sections.get("blocs", {}), "blocs"))
        competencies = dict(_section(sections.get("competencies", {}), "competencies"))
        bloc_rules = {
            key: _rule(settings, f"blocs[{key!r}]", base=default) for key, settings in blocs.items()
        }
        for key, settings in competencies.items():
            if "/" not in key:
                raise InvalidRule(f"competency override {key!r} must be written 'bloc-key/CODE'")
            bloc_key = key.split("/", 1)[0]
            _rule(settings, f"competencies[{key!r}]", base=bloc_rules.get(bloc_key, default))
        return cls(default=default, blocs=blocs, competencies=competencies)

    def check_targets(self, codes_by_bloc: Mapping[str, Collection[str]]) -> None:
        """Refuse overrides of blocs or competencies that are not in the framework
        (``codes_by_bloc``: each bloc key with its competency codes)."""
        unknown = [f"{key!r} (no such bloc)" for key in self.blocs if key not in codes_by_bloc]
        for key in self.competencies:
            bloc_key, code = key.split("/", 1)
            if code not in codes_by_bloc.get(bloc_key, ()):
                unknown.append(f"{key!r} (no such competency)")
        if unknown:
            raise InvalidRule(f"override of what the framework does not have: {', '.join(unknown)}")


def _section(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRule(f"{name} must be a JSON object, not {_shown(value)}")
    return value


def _rule(settings: Any, name: str, base: Rule | None) -> Rule:
    """The rule ``settings`` make over ``base``; an error names the section ``name``."""
    section = _section(settings, name)
    try:
        return Rule.from_dict(section, base=base)
    except InvalidRule as error:
        raise InvalidRule(f"{name}: {error}") from None
