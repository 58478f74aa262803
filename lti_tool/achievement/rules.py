"""The rules in force per framework, versioned: every change is a new version, audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.achievement.models import RuleSetVersion
from referentiel import audit
from referentiel.achievement import RuleSetting
from referentiel.models import Framework


def current_version(session: Session, framework_id: int) -> RuleSetVersion | None:
    return session.scalars(
        select(RuleSetVersion)
        .where(RuleSetVersion.framework_id == framework_id)
        .order_by(RuleSetVersion.version.desc())
        .limit(1)
    ).first()


def rules_in_force(session: Session, framework_id: int) -> tuple[RuleSetting, int]:
    """The framework's rules and their version; version 0 is the built-in default."""
    # The two columns only: every derivation round asks, and an ORM row costs more.
    row = session.execute(
        select(RuleSetVersion.rules, RuleSetVersion.version)
        .where(RuleSetVersion.framework_id == framework_id)
        .order_by(RuleSetVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return RuleSetting(), 0
    return RuleSetting.from_dict(row.rules), row.version


def _codes_by_bloc(framework: Framework) -> dict[str, set[str]]:
    # Retired ones included: their rows, evidence and states are kept.
    return {bloc.key: {c.code for c in bloc.competencies} for bloc in framework.blocs}


def set_rules(
    session: Session,
    framework: Framework,
    rules: Mapping[str, Any],
    *,
    actor: str,
    reason: str = "",
) -> RuleSetVersion:
    """Record a new version of ``framework``'s rules (validated first, overrides
    against its blocs and competencies) in the trail.

    States are not recomputed here: call ``recompute.recompute_framework`` in the same
    transaction so that every state names the version that produced it.
    """
    setting = RuleSetting.from_dict(rules)
    setting.check_targets(_codes_by_bloc(framework))
    latest = session.scalar(
        select(func.max(RuleSetVersion.version)).where(RuleSetVersion.framework_id == framework.id)
    )
    version = RuleSetVersion(
        framework_id=framework.id,
        version=(latest or 0) + 1,
        rules=setting.to_dict(),
        reason=reason,
        actor=actor,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        "rule.changed",
        actor=actor,
        summary=f"rules of {framework.key} now at version {version.version}: "
        f"{setting.default.describe()}",
        framework=framework.key,
        version=version.version,
        rules=version.rules,
        reason=reason,
    )
    return version
