"""The jury rule: two distinct jurors, one external, who agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from referentiel.jury import Decision, JuryRuleError, SignOff, check_panel

T0 = datetime(2026, 6, 20, 14, 0, tzinfo=UTC)


def signoff(
    juror: str, external: bool, decision: Decision = Decision.VALIDATED, minutes: int = 0
) -> SignOff:
    return SignOff(
        juror_id=juror,
        juror_name=juror.title(),
        external=external,
        decision=decision,
        signed_at=T0 + timedelta(minutes=minutes),
    )


def test_one_juror_is_not_enough() -> None:
    check = check_panel([signoff("ext-1", external=True)])
    assert not check.decided
    assert check.problems == ("two distinct jurors must sign off (1 so far)",)


def test_two_internal_jurors_are_not_enough() -> None:
    check = check_panel([signoff("int-1", False), signoff("int-2", False, minutes=1)])
    assert not check.decided
    assert check.problems == ("at least one juror must be external to the training centre",)


def test_the_same_juror_twice_is_not_enough() -> None:
    check = check_panel([signoff("ext-1", True), signoff(" EXT-1 ", True, minutes=5)])
    assert not check.decided and check.jurors == 1


def test_an_internal_and_an_external_juror_who_agree_decide() -> None:
    check = check_panel([signoff("int-1", False), signoff("ext-1", True, minutes=3)])
    assert check.decision is Decision.VALIDATED and check.problems == ()
    refused = check_panel(
        [
            signoff("int-1", False, Decision.NOT_VALIDATED),
            signoff("ext-1", True, Decision.NOT_VALIDATED),
        ]
    )
    assert refused.decision is Decision.NOT_VALIDATED


def test_jurors_who_disagree_make_no_decision_until_one_changes_their_mind() -> None:
    split = [signoff("int-1", False, Decision.NOT_VALIDATED), signoff("ext-1", True, minutes=1)]
    assert check_panel(split).problems == ("the jurors disagree: no decision until they agree",)
    agreed = [*split, signoff("int-1", False, Decision.VALIDATED, minutes=2)]
    assert check_panel(agreed).decision is Decision.VALIDATED


def test_a_sign_off_needs_a_juror_and_a_known_decision() -> None:
    with pytest.raises(JuryRuleError, match="identifier"):
        SignOff("  ", "Name", True, Decision.VALIDATED, T0)
    with pytest.raises(JuryRuleError, match="unknown decision"):
        SignOff("j", "Name", True, "maybe", T0)  # type: ignore[arg-type]
