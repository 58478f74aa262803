"""Mastery rules: each method, success outranking score, validity, order, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from referentiel.achievement import (
    EXPLAINED,
    EvidenceItem,
    InvalidRule,
    Method,
    Rule,
    RuleSetting,
    State,
    evaluate,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)


def ev(
    n: int,
    score: float | None = None,
    success: bool | None = None,
    activity: str = "quiz-1",
    days: float = 0,
) -> EvidenceItem:
    return EvidenceItem(
        statement_id=f"s{n:03d}",
        source_activity=activity,
        occurred_at=T0 + timedelta(days=days),
        score_scaled=score,
        success=success,
    )


def test_no_evidence_is_non_acquis() -> None:
    result = evaluate(Rule(), [], NOW)
    assert result.state is State.NON_ACQUIS
    assert (result.score, result.evidence_count, result.last_evidence_at) == (None, 0, None)


def test_evidence_that_judges_nothing_is_en_cours() -> None:
    result = evaluate(Rule(), [ev(1)], NOW)
    assert result.state is State.EN_COURS and result.evidence_count == 1
    assert result.counted[0].passed is None


def test_highest_takes_the_best_result() -> None:
    rule = Rule(method=Method.HIGHEST, mastery_threshold=0.7)
    result = evaluate(rule, [ev(1, 0.4, days=0), ev(2, 0.8, days=1), ev(3, 0.5, days=2)], NOW)
    assert result.state is State.ACQUIS and result.score == 0.8
    assert evaluate(rule, [ev(1, 0.4), ev(2, 0.69, days=1)], NOW).state is State.EN_COURS


def test_most_recent_follows_statement_timestamp_not_storage_order() -> None:
    rule = Rule(method=Method.MOST_RECENT, mastery_threshold=0.6)
    # Stored in this order, but the failure happened first.
    late_success = ev(1, 0.9, days=5)
    early_failure = ev(2, 0.2, days=1)
    result = evaluate(rule, [late_success, early_failure], NOW)
    assert result.state is State.ACQUIS and result.score == 0.9
    assert result.last_evidence_at == T0 + timedelta(days=5)
    assert [c.statement_id for c in result.counted] == ["s002", "s001"]


def test_average() -> None:
    rule = Rule(method=Method.AVERAGE, mastery_threshold=0.6)
    assert evaluate(rule, [ev(1, 0.5), ev(2, 0.7, days=1)], NOW).score == pytest.approx(0.6)
    assert evaluate(rule, [ev(1, 0.5), ev(2, 0.7, days=1)], NOW).state is State.ACQUIS
    assert evaluate(rule, [ev(1, 0.4), ev(2, 0.7, days=1)], NOW).state is State.EN_COURS


def test_decaying_average_weighs_the_newest() -> None:
    rule = Rule(method=Method.DECAYING_AVERAGE, mastery_threshold=0.6, decay_weight=0.65)
    result = evaluate(rule, [ev(1, 0.2), ev(2, 0.8, days=1)], NOW)
    assert result.score == pytest.approx(0.65 * 0.8 + 0.35 * 0.2)  # 0.59
    assert result.state is State.EN_COURS
    three = evaluate(rule, [ev(1, 0.2), ev(2, 0.8, days=1), ev(3, 0.8, days=2)], NOW)
    assert three.score == pytest.approx(0.65 * 0.8 + 0.35 * 0.59)
    assert three.state is State.ACQUIS
    heavier = Rule(method=Method.DECAYING_AVERAGE, mastery_threshold=0.6, decay_weight=0.9)
    assert evaluate(heavier, [ev(1, 0.2), ev(2, 0.8, days=1)], NOW).state is State.ACQUIS


def test_n_mastery_counts_retries_of_one_activity_once() -> None:
    rule = Rule(method=Method.N_MASTERY, n_successes=2, k_activities=2, mastery_threshold=0.5)
    retries = [ev(i, 0.9, activity="quiz-1", days=i) for i in range(5)]
    assert evaluate(rule, retries, NOW).state is State.EN_COURS
    two = [*retries, ev(9, 0.7, activity="quiz-2", days=9)]
    result = evaluate(rule, two, NOW)
    assert result.state is State.ACQUIS and result.score == 1.0


def test_n_mastery_needs_k_distinct_activities_judged() -> None:
    rule = Rule(method=Method.N_MASTERY, n_successes=2, k_activities=3)
    two = [ev(1, 0.9, activity="a"), ev(2, 0.9, activity="b", days=1)]
    assert evaluate(rule, two, NOW).state is State.EN_COURS
    three = [*two, ev(3, 0.1, activity="c", days=2)]
    assert evaluate(rule, three, NOW).state is State.ACQUIS


def test_success_outranks_the_score() -> None:
    rule = Rule(method=Method.MOST_RECENT, mastery_threshold=0.8)
    passed = evaluate(rule, [ev(1, 0.3, success=True)], NOW)
    assert passed.state is State.ACQUIS and passed.score == 1.0
    assert "outranks the score" in passed.counted[0].note
    failed = evaluate(rule, [ev(1, 0.95, success=False)], NOW)
    assert failed.state is State.EN_COURS and failed.score == 0.0


def test_validity_period_ignores_old_evidence_relative_to_as_of() -> None:
    rule = Rule(method=Method.HIGHEST, validity_days=10)
    old_success = ev(1, 0.9, days=0)
    recent_failure = ev(2, 0.1, days=25)
    result = evaluate(rule, [old_success, recent_failure], NOW)
    assert result.state is State.EN_COURS and result.evidence_count == 1
    assert [c.statement_id for c in result.ignored] == ["s001"]
    assert result.expires_at == T0 + timedelta(days=35)
    # With a longer period both count (and the failure after the success is a conflict).
    longer = evaluate(
        Rule(method=Method.HIGHEST, validity_days=31), [old_success, recent_failure], NOW
    )
    assert longer.state is State.ACQUIS and longer.evidence_count == 2
    everything_old = evaluate(rule, [old_success], NOW)
    assert everything_old.state is State.NON_ACQUIS
    assert everything_old.summary == "no evidence within the validity period"


def test_a_failure_after_a_success_is_flagged_conflicting_not_averaged_away() -> None:
    rule = Rule(method=Method.HIGHEST)
    result = evaluate(rule, [ev(1, 0.9), ev(2, 0.1, days=1)], NOW)
    assert result.state is State.ACQUIS and result.conflicting
    assert "conflicting" in result.summary


def test_failing_then_succeeding_is_learning_not_a_conflict() -> None:
    result = evaluate(Rule(), [ev(1, 0.1), ev(2, 0.2, days=1), ev(3, 0.9, days=2)], NOW)
    assert result.state is State.ACQUIS and not result.conflicting


def test_conflict_window_only_looks_at_the_latest_results() -> None:
    history = [ev(1, 0.9), ev(2, 0.1, days=1), ev(3, 0.9, days=2), ev(4, 0.9, days=3)]
    assert not evaluate(Rule(conflict_window=3), history, NOW).conflicting
    assert evaluate(Rule(conflict_window=4), history, NOW).conflicting


def test_explanation_lists_what_counted_and_why() -> None:
    rule = Rule(method=Method.AVERAGE, validity_days=10)
    result = evaluate(rule, [ev(1, 0.9, days=0), ev(2, 0.7, days=25)], NOW)
    explanation = result.explanation()
    assert explanation["counted"] == [
        {
            "statement_id": "s002",
            "activity": "quiz-1",
            "occurred_at": (T0 + timedelta(days=25)).isoformat(),
            "value": 0.7,
            "passed": True,
            "note": "score 0.70 >= threshold 0.50",
        }
    ]
    assert explanation["ignored"][0]["note"] == "older than the validity period (10 days)"
    assert explanation["summary"].startswith("average of results at least 50 %")


def test_explanation_lists_the_latest_pieces_and_counts_them_all() -> None:
    history = [ev(n, 0.2 if n <= 10 else 0.8, days=n / 10) for n in range(1, 71)]
    result = evaluate(Rule(method=Method.AVERAGE), history, NOW)
    explanation = result.explanation()
    assert result.evidence_count == 70
    assert (explanation["counted_total"], explanation["ignored_total"]) == (70, 0)
    assert len(explanation["counted"]) == EXPLAINED
    assert [c["statement_id"] for c in explanation["counted"]] == [
        f"s{n:03d}" for n in range(71 - EXPLAINED, 71)
    ]
    assert explanation["counted"][-1]["note"] == "score 0.80 >= threshold 0.50"
    # The average still covers every piece, the unlisted low scores included.
    assert result.score == pytest.approx((10 * 0.2 + 60 * 0.8) / 70)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "median"}, "unknown method"),
        ({"mastery_threshold": 0}, "mastery_threshold"),
        ({"mastery_threshold": "high"}, "mastery_threshold must be a number, not 'high'"),
        ({"mastery_threshold": float("nan")}, "mastery_threshold must be a number"),
        ({"decay_weight": 1}, "decay_weight"),
        ({"decay_weight": float("inf")}, "decay_weight must be a number"),
        ({"n_successes": 0}, "n_successes"),
        ({"n_successes": 1.5}, r"n_successes must be a whole number from 1 to 1000, not 1\.5"),
        ({"k_activities": True}, "k_activities must be a whole number .*, not true"),
        ({"validity_days": 0}, "validity_days"),
        ({"validity_days": 99_999_999_999}, "validity_days must be a whole number from 1 to 36500"),
        ({"validity_days": float("inf")}, "validity_days must be a whole number"),
        ({"conflict_window": 10**23}, "conflict_window must be a whole number from 2 to 100"),
        ({"colour": "red"}, "unknown rule setting"),
    ],
)
def test_bad_rule_settings_are_refused_with_the_setting_named(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRule, match=message):
        Rule.from_dict(settings)


def test_overrides_per_bloc_then_per_competency() -> None:
    setting = RuleSetting.from_dict(
        {
            "default": {"method": "most_recent", "mastery_threshold": 0.5},
            "blocs": {"bloc-2": {"mastery_threshold": 0.7}},
            "competencies": {"bloc-2/C3": {"method": "n_mastery", "n_successes": 3}},
        }
    )
    assert setting.rule_for("bloc-1", "C1") == Rule(method=Method.MOST_RECENT)
    assert setting.rule_for("bloc-2", "C1").mastery_threshold == 0.7
    c3 = setting.rule_for("bloc-2", "C3")
    assert (c3.method, c3.mastery_threshold, c3.n_successes) == (Method.N_MASTERY, 0.7, 3)
    assert RuleSetting.from_dict(setting.to_dict()) == setting
    with pytest.raises(InvalidRule, match="bloc-key/CODE"):
        RuleSetting.from_dict({"competencies": {"C3": {}}})


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"default": [1, 2]}, r"^default must be a JSON object, not an array$"),
        ({"default": "abc"}, r"^default must be a JSON object, not 'abc'$"),
        ({"blocs": {"bloc-1": 5}}, r"^blocs\['bloc-1'\] must be a JSON object, not 5$"),
        ({"competencies": []}, r"^competencies must be a JSON object"),
        ({"blocs": {"bloc-1": {"n_successes": 0}}}, r"^blocs\['bloc-1'\]: n_successes"),
        (
            {"competencies": {"bloc-1/C1": {"method": "x"}}},
            r"^competencies\['bloc-1/C1'\]: unknown",
        ),
    ],
)
def test_each_rule_section_must_be_an_object_and_errors_name_it(
    rules: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRule, match=message):
        RuleSetting.from_dict(rules)


def test_overrides_must_name_blocs_and_competencies_of_the_framework() -> None:
    setting = RuleSetting.from_dict(
        {"blocs": {"bloc-1": {}, "nope": {}}, "competencies": {"bloc-1/C1": {}, "bloc-1/C999": {}}}
    )
    with pytest.raises(InvalidRule) as refused:
        setting.check_targets({"bloc-1": {"C1", "C2"}})
    assert str(refused.value) == (
        "override of what the framework does not have: "
        "'nope' (no such bloc), 'bloc-1/C999' (no such competency)"
    )
    RuleSetting.from_dict({"competencies": {"bloc-1/C2": {}}}).check_targets({"bloc-1": {"C2"}})


def test_the_longest_validity_period_still_evaluates() -> None:
    rule = Rule(validity_days=36_500)
    assert evaluate(rule, [ev(1, 0.9)], NOW).expires_at == T0 + timedelta(days=36_500)
