"""The actor key: one indexed string per xAPI Agent or Group identity.

Statement storage writes ``actor_key(statement["actor"])`` into
``Statement.actor_key``; learner resolution computes the same keys from an LTI user
(issuer, sub, email) and looks statements up by them, so both sides must use this
module and nothing else.

Formats (xAPI 1.0.3 §2.4.2.3, Inverse Functional Identifier; exactly one per Agent):

- ``account:{homePage}|{name}``: ``homePage`` without trailing slashes, so that
  ``https://moodle.example.org/`` and ``https://moodle.example.org`` are one site
  (Moodle's issuer is its wwwroot, which logstore_xapi sends as the homePage);
  ``name`` as given.
- ``mbox:mailto:{address}``: the whole IRI in lower case (the scheme is
  case-insensitive; the address is compared case-insensitively on purpose, as
  people type their email in either case).
- ``sha1:{hex}``: the ``mbox_sha1sum`` in lower case.
- ``openid:{uri}``: as given.
- an anonymous Group (no IFI): ``group:{sha1 of its sorted member keys}``.

An identified Group gets the key of its IFI, like an Agent. A key longer than
:data:`MAX_KEY_LENGTH` (the column's size) is replaced by its kind, ``#sha256:``
and the SHA-256 of the full key, which is as deterministic as the key itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

MAX_KEY_LENGTH = 512


def normalise_home_page(home_page: str) -> str:
    """A site URL compared without its trailing slashes."""
    return home_page.rstrip("/")


def account_key(home_page: str, name: str) -> str:
    return _bounded(f"account:{normalise_home_page(home_page)}|{name}")


def mbox_key(mbox: str) -> str:
    """``mbox`` is the full ``mailto:`` IRI."""
    return _bounded(f"mbox:{mbox.strip().lower()}")


def mbox_sha1_key(sha1_hex: str) -> str:
    return _bounded(f"sha1:{sha1_hex.strip().lower()}")


def openid_key(openid: str) -> str:
    return _bounded(f"openid:{openid}")


def email_keys(email: str) -> set[str]:
    """Every key under which an agent identified by this email may appear.

    The ``mbox_sha1sum`` is the SHA-1 of the ``mailto:`` IRI as the sender wrote
    it: both the address as the platform gave it and its lower-case form are tried.
    """
    keys = {mbox_key(f"mailto:{email}")}
    for variant in {email.strip(), email.strip().lower()}:
        digest = hashlib.sha1(f"mailto:{variant}".encode(), usedforsecurity=False).hexdigest()
        keys.add(mbox_sha1_key(digest))
    return keys


def actor_key(actor: Mapping[str, Any]) -> str:
    """The key of an Agent or Group as it appears in a statement's ``actor``.

    The statement is assumed valid (exactly one IFI on an Agent); an actor without
    any IFI and without members raises ``ValueError``.
    """
    ifi_key = _ifi_key(actor)
    if ifi_key is not None:
        return ifi_key
    members = actor.get("member")
    if actor.get("objectType") == "Group" and isinstance(members, list):
        member_keys = sorted(actor_key(m) for m in members if isinstance(m, Mapping))
        digest = hashlib.sha1("\n".join(member_keys).encode(), usedforsecurity=False)
        return f"group:{digest.hexdigest()}"
    raise ValueError("the actor has no inverse functional identifier")


def is_agent(actor: Mapping[str, Any]) -> bool:
    """A single person (``objectType`` absent or ``Agent``), as opposed to a Group."""
    return actor.get("objectType", "Agent") == "Agent"


def _ifi_key(actor: Mapping[str, Any]) -> str | None:
    account = actor.get("account")
    if isinstance(account, Mapping):
        return account_key(str(account.get("homePage", "")), str(account.get("name", "")))
    if isinstance(actor.get("mbox"), str):
        return mbox_key(actor["mbox"])
    if isinstance(actor.get("mbox_sha1sum"), str):
        return mbox_sha1_key(actor["mbox_sha1sum"])
    if isinstance(actor.get("openid"), str):
        return openid_key(actor["openid"])
    return None


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    kind = key.split(":", 1)[0]
    return f"{kind}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"
