"""Who a statement's actor is: the LTI user it names, if any.

An Agent names an LTI user when (xAPI 1.0.3 §2.4.2.3 identifiers):
- its ``account`` is ``{homePage: issuer, name: sub}``, what Moodle's logstore_xapi
  sends (its wwwroot and user id, the same values as ``iss`` and ``sub`` at launch);
  a trailing slash on either side does not matter;
- its ``mbox`` is ``mailto:`` the user's email, compared case-insensitively;
- its ``mbox_sha1sum`` is the SHA-1 of that ``mailto:`` IRI (known through the
  ``xapi_learner_key`` rows that :func:`xapi.evidence.resolve_pending_for_user`
  writes, since a hash cannot be searched for).

The ``lti_user`` table belongs to ``lti_tool``; this package reads it through a
minimal Core description so as not to import the outer layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, column, delete, func, insert, select, table
from sqlalchemy.orm import Session

from xapi import actors
from xapi.models import LearnerKey
from xapi.value_lists import chunks, one_of

lti_user = table(
    "lti_user",
    column("id", Integer),
    column("issuer", String),
    column("sub", String),
    column("email", String),
)


@dataclass(frozen=True)
class Learner:
    id: int
    issuer: str

    def on_platform(self, issuer: str | None) -> bool:
        """Whether this learner belongs to ``issuer`` (``None``: any platform)."""
        if issuer is None:
            return True
        return actors.normalise_home_page(self.issuer) == actors.normalise_home_page(issuer)


def learners_by_actor(
    session: Session, agents: Mapping[str, Mapping[str, Any]]
) -> dict[str, set[Learner]]:
    """The LTI users each agent names, keyed by actor key (``agents``: key → actor).

    At most three queries whatever the number of agents (per chunk of 500).
    """
    found: dict[str, set[Learner]] = {}
    for key, learner in _from_learner_keys(session, agents):
        found.setdefault(key, set()).add(learner)

    accounts: dict[tuple[str, str], str] = {}
    mailboxes: dict[str, str] = {}
    for key, agent in agents.items():
        if key in found:
            continue
        account = agent.get("account")
        if isinstance(account, Mapping):
            home_page = actors.normalise_home_page(str(account.get("homePage", "")))
            accounts[(home_page, str(account.get("name", "")))] = key
        elif isinstance(agent.get("mbox"), str):
            mailboxes[agent["mbox"].strip().lower().removeprefix("mailto:")] = key

    # Both spellings of each issuer; the (issuer, sub) unique index serves this query.
    issuers = sorted(
        {spelling for home_page, _ in accounts for spelling in (home_page, f"{home_page}/")}
    )
    for names in chunks(sorted({name for _, name in accounts})):
        rows = session.execute(
            select(lti_user.c.id, lti_user.c.issuer, lti_user.c.sub).where(
                one_of(session, lti_user.c.issuer, issuers), one_of(session, lti_user.c.sub, names)
            )
        )
        for user_id, issuer, sub in rows:
            account_key = accounts.get((actors.normalise_home_page(issuer), sub))
            if account_key is not None:
                found.setdefault(account_key, set()).add(Learner(user_id, issuer))

    for addresses in chunks(sorted(mailboxes)):
        rows = session.execute(
            select(lti_user.c.id, lti_user.c.issuer, func.lower(lti_user.c.email)).where(
                one_of(session, func.lower(lti_user.c.email), addresses)
            )
        )
        for user_id, issuer, address in rows:
            found.setdefault(mailboxes[address], set()).add(Learner(user_id, issuer))
    return found


def keys_of_users(session: Session, user_ids: Iterable[int]) -> dict[int, set[str]]:
    """Every actor key that names each of these users (absent ids are left out)."""
    found: dict[int, set[str]] = {}
    for ids in chunks(sorted(set(user_ids))):
        rows = session.execute(
            select(lti_user.c.id, lti_user.c.issuer, lti_user.c.sub, lti_user.c.email).where(
                one_of(session, lti_user.c.id, ids)
            )
        )
        for user_id, issuer, sub, email in rows:
            keys = {actors.account_key(issuer, sub)}
            if email:
                keys |= actors.email_keys(email)
            found[user_id] = keys
    return found


def known_keys(session: Session, user_ids: Iterable[int]) -> dict[int, set[str]]:
    """The keys :func:`remember_keys` last recorded for these users."""
    found: dict[int, set[str]] = {}
    for ids in chunks(sorted(set(user_ids))):
        rows = session.execute(
            select(LearnerKey.user_id, LearnerKey.actor_key).where(
                one_of(session, LearnerKey.user_id, ids)
            )
        )
        for user_id, key in rows:
            found.setdefault(user_id, set()).add(key)
    return found


def remember_keys(
    session: Session, added: list[tuple[int, str]], removed: list[tuple[int, str]]
) -> None:
    """Record (user id, key) pairs a user gained, forget those they lost (a new email)."""
    for user_id, key in removed:
        session.execute(
            delete(LearnerKey).where(LearnerKey.user_id == user_id, LearnerKey.actor_key == key)
        )
    if added:
        session.execute(insert(LearnerKey), [{"user_id": u, "actor_key": k} for u, k in added])


def remember_all_keys(session: Session) -> int:
    """Rebuild every user's known keys from ``lti_user`` (repair, or users written by
    code that never called :func:`xapi.evidence.resolve_pending_for_user`)."""
    rows = []
    for user_id, issuer, sub, email in session.execute(
        select(lti_user.c.id, lti_user.c.issuer, lti_user.c.sub, lti_user.c.email)
    ):
        keys = {actors.account_key(issuer, sub)} | (actors.email_keys(email) if email else set())
        rows += [{"actor_key": key, "user_id": user_id} for key in sorted(keys)]
    session.execute(delete(LearnerKey))
    if rows:
        session.execute(insert(LearnerKey), rows)
    return len(rows)


def _from_learner_keys(
    session: Session, agents: Mapping[str, Mapping[str, Any]]
) -> Iterable[tuple[str, Learner]]:
    for keys in chunks(sorted(agents)):
        rows = session.execute(
            select(LearnerKey.actor_key, lti_user.c.id, lti_user.c.issuer)
            .join(lti_user, lti_user.c.id == LearnerKey.user_id)
            .where(one_of(session, LearnerKey.actor_key, keys))
        )
        for key, user_id, issuer in rows:
            yield key, Learner(user_id, issuer)
