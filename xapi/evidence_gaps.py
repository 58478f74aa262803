"""Why stored statements gave no evidence: the report behind ``lti-tool evidence gaps``.

The question every installation asks once ("the quiz results do not show"): of the
statements stored, which gave no evidence, and what would change that: a learner who
has not launched the tool yet, an activity no mapping rule names, or statements that
say nothing of a result (launches, page views) and never count. Each statement's
reason comes from derivation's own reading (:func:`xapi.evidence.explain_gaps`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from xapi.actors import normalise_home_page
from xapi.evidence import VOIDED, Gap, explain_gaps, statement_facts
from xapi.models import DerivationQueue, Evidence, Statement
from xapi.value_lists import chunks

CHUNK = 1000


@dataclass
class GapGroup:
    """The statements that gave no evidence for one reason, and what they are about
    (a verb, an actor's key or an activity id), the most frequent first."""

    gap: Gap
    statements: int = 0
    subjects: list[tuple[str, int]] = field(default_factory=list)
    more_subjects: int = 0  # subjects beyond those listed


@dataclass
class GapReport:
    stored: int  # statements neither voided nor voiding
    with_evidence: int
    waiting: int  # queued for derivation: no verdict yet
    without_evidence: int
    # Of those without evidence, how many were read to explain them (``recent``).
    examined: int
    # Would give evidence if derived now (a repair left undone): `evidence rederive`.
    underived: int
    groups: list[GapGroup]


# Voided statements and voiding ones never give evidence, by definition: not counted.
_COUNTED = (~Statement.voided, Statement.verb_id != VOIDED)


def _scope(platform: str | None) -> tuple[ColumnElement[bool], ...]:
    """A platform's statements: sent with a credential bound to it, or by an actor
    account of that site (what Moodle's log store sends, whatever the credential)."""
    if platform is None:
        return _COUNTED
    issuer = normalise_home_page(platform)
    return (
        *_COUNTED,
        or_(
            Statement.platform_issuer == issuer,
            Statement.actor_key.startswith(f"account:{issuer}|", autoescape=True),
        ),
    )


def evidence_gaps(
    session: Session,
    base_url: str | None,
    top: int = 10,
    *,
    platform: str | None = None,
    recent: int | None = None,
) -> GapReport:
    """The stored statements (voided and voiding ones left out; of ``platform`` only,
    when given) that gave no evidence and wait for no derivation, grouped by why,
    with the ``top`` most frequent subjects of each group. ``recent`` explains only
    that many of them, the latest stored (a page must answer quickly). Seen from a
    platform, nothing is said of other platforms' learners."""
    scope = _scope(platform)
    has_evidence = exists().where(Evidence.statement_id == Statement.id)
    queued = exists().where(DerivationQueue.statement_id == Statement.id)
    stored, with_evidence, waiting = session.execute(
        select(
            func.count(),
            func.count().filter(has_evidence),
            func.count().filter(~has_evidence, queued),
        )
        .select_from(Statement)
        .where(*scope)
    ).one()
    without = select(Statement.id).where(*scope, ~has_evidence, ~queued)
    ids = list(
        session.scalars(
            without.order_by(Statement.stored.desc(), Statement.id.desc()).limit(recent)
        )
    )
    without_evidence = (
        len(ids)
        if recent is None or len(ids) < recent
        else int(session.scalar(select(func.count()).select_from(without.subquery())) or 0)
    )
    counts: dict[Gap, Counter[str]] = {}
    underived = 0
    for chunk in chunks(ids, CHUNK):
        gaps = explain_gaps(session, statement_facts(session, chunk), base_url)
        underived += len(chunk) - len(gaps)
        for gap, subject in gaps.values():
            if platform is not None and gap is Gap.OTHER_PLATFORM:
                # Seen from one platform, a learner of another is not known: saying
                # more would tell whose address an email is on another platform.
                gap = Gap.UNKNOWN_LEARNER
            counts.setdefault(gap, Counter())[subject] += 1
    groups = []
    for gap in Gap:  # derivation's order
        if gap not in counts:
            continue
        ranked = sorted(counts[gap].items(), key=lambda item: (-item[1], item[0]))
        groups.append(
            GapGroup(gap, sum(counts[gap].values()), ranked[:top], max(0, len(ranked) - top))
        )
    return GapReport(
        int(stored or 0),
        int(with_evidence or 0),
        int(waiting or 0),
        without_evidence,
        len(ids),
        underived,
        groups,
    )
