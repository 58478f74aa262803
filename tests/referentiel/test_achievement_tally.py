"""Adding evidence to a kept tally gives the state the whole history gives.

Recomputation reads only the new evidence of a (learner, competency) pair when it comes
after all the pair already had (``evaluate_more``); a learner's state must not depend
on which way it was computed. Random histories under every method check it, the tally
going through JSON as it does through the database.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from referentiel.achievement import (
    Achievement,
    EvidenceItem,
    Method,
    Rule,
    Tally,
    evaluate,
    evaluate_more,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=400)
QUIZ = "https://moodle.example.org/mod/quiz/view.php?id="
RULES = [
    Rule(method=Method.HIGHEST),
    Rule(method=Method.MOST_RECENT, mastery_threshold=0.7),
    Rule(method=Method.AVERAGE),
    Rule(method=Method.DECAYING_AVERAGE, decay_weight=0.4),
    Rule(method=Method.N_MASTERY, n_successes=3, k_activities=4),
    Rule(method=Method.MOST_RECENT, conflict_window=5),
]


def history(rng: random.Random, size: int) -> list[EvidenceItem]:
    """Evidence in time order: scores, explicit outcomes, bare completions, ties."""
    items = []
    at = T0
    for n in range(size):
        at += timedelta(minutes=rng.choice([0, 1, 30, 600]))  # 0: same instant
        kind = rng.random()
        items.append(
            EvidenceItem(
                statement_id=f"{rng.getrandbits(64):016x}-{n}",
                source_activity=f"{QUIZ}{rng.randint(1, 6)}",
                occurred_at=at,
                score_scaled=round(rng.random(), 2) if kind < 0.8 else None,
                success=rng.choice([True, False]) if 0.6 < kind < 0.9 else None,
            )
        )
    return items


def through_json(result: Achievement) -> Tally:
    """The result's tally as a state keeps it: its JSON, and the explanation beside it."""
    assert result.tally is not None
    return Tally.from_json(
        json.loads(json.dumps(result.tally.to_json())), json.loads(json.dumps(result.explanation()))
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.method}-{r.conflict_window}")
@pytest.mark.parametrize("seed", range(25))
def test_a_tally_with_later_evidence_added_matches_the_whole_history(rule: Rule, seed: int) -> None:
    rng = random.Random(seed)
    items = history(rng, rng.randint(1, 140))
    cut = rng.randint(0, len(items))
    while 0 < cut < len(items) and items[cut].occurred_at == items[cut - 1].occurred_at:
        cut += 1  # pieces at one instant go by statement id: keep them on one side
    whole = evaluate(rule, items, NOW)
    tally = through_json(evaluate(rule, items[:cut], NOW))
    later = items[cut:]
    rng.shuffle(later)  # they come in any order within one derivation
    added = evaluate_more(rule, tally, later)
    assert added is not None
    assert (added.state, added.score, added.conflicting, added.summary) == (
        whole.state,
        whole.score,
        whole.conflicting,
        whole.summary,
    )
    assert (added.evidence_count, added.last_evidence_at) == (
        whole.evidence_count,
        whole.last_evidence_at,
    )
    assert added.explanation() == whole.explanation()
    assert through_json(added).to_json() == through_json(whole).to_json()


def test_evidence_older_than_what_was_counted_needs_the_whole_history() -> None:
    items = history(random.Random(7), 20)
    tally = through_json(evaluate(Rule(), items[5:], NOW))
    assert evaluate_more(Rule(), tally, [items[0]]) is None


def test_a_validity_period_needs_the_whole_history() -> None:
    rule = Rule(validity_days=365)
    items = history(random.Random(8), 20)
    tally = through_json(evaluate(rule, items[:10], NOW))
    assert evaluate_more(rule, tally, items[10:]) is None


def test_an_explicit_outcome_and_a_score_fold_as_the_rules_say() -> None:
    rule = Rule(method=Method.AVERAGE)
    first = EvidenceItem("a", "quiz-1", T0, score_scaled=0.2)
    tally = through_json(evaluate(rule, [first], NOW))
    later = EvidenceItem("b", "quiz-1", T0 + timedelta(hours=1), score_scaled=0.1, success=True)
    added = evaluate_more(rule, tally, [later])
    assert added is not None
    assert added.score == pytest.approx((0.2 + 1.0) / 2)  # an explicit success is worth 100 %
    assert added.explanation()["counted"][-1]["note"] == (
        "success reported (outranks the score 0.10)"
    )


def test_a_piece_read_back_is_explained_as_it_was_written_until_changed() -> None:
    first = evaluate(Rule(), [EvidenceItem("a", "quiz-1", T0, score_scaled=0.2)], NOW)
    piece = through_json(first).listed[0]
    assert piece.listed_as == first.explanation()["counted"][0]
    changed = replace(piece, reason="said otherwise")
    assert changed.listed_as is None  # explained from what it says now
    assert changed.note == "said otherwise"
