"""The statement validator against the MUSTs of xAPI 1.0.3 Data §2 and §4, including
what tincan 1.0.0 lets through (no actor, non-IRI ids, a scaled score of 5)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xapi.exceptions import InvalidStatement
from xapi.statements_store import format_stored
from xapi.validation import parse_timestamp, validate_statement

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "xapi"


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", ["moodle_quiz_completed", "h5p_answered", "cmi5_passed"])
def test_realistic_statements_from_moodle_h5p_and_cmi5_are_valid(name: str) -> None:
    validate_statement(sample(name))


def test_upper_case_uuids_are_valid() -> None:
    statement = sample("cmi5_passed")
    statement["id"] = statement["id"].upper()
    statement["context"]["registration"] = statement["context"]["registration"].upper()
    validate_statement(statement)


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(statement: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = statement
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _delete(path: str) -> Mutation:
    def apply(statement: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = statement
        for key in parents:
            node = node[key]
        del node[last]

    return apply


BAD = [
    # (test id, sample, mutation, expected path in the message)
    ("statement_must_have_an_actor", "h5p_answered", _delete("actor"), "statement.actor"),
    ("statement_must_have_a_verb", "h5p_answered", _delete("verb"), "statement.verb"),
    ("statement_must_have_an_object", "h5p_answered", _delete("object"), "statement.object"),
    ("verb_id_must_be_an_iri", "h5p_answered", _set("verb.id", "answered"), "statement.verb.id"),
    (
        "iri_scheme_must_be_valid",
        "h5p_answered",
        _set("object.id", "ab=c://should.fail.com"),
        "statement.object.id",
    ),
    ("id_must_be_a_uuid", "cmi5_passed", _set("id", "not-a-uuid"), "statement.id"),
    (
        "registration_must_be_a_uuid",
        "cmi5_passed",
        _set("context.registration", "AA97B177-9383-4934-8543-0F91A7A028368"),
        "statement.context.registration",
    ),
    (
        "scaled_score_must_be_between_minus_one_and_one",
        "h5p_answered",
        _set("result.score.scaled", 5),
        "statement.result.score.scaled",
    ),
    (
        "raw_score_must_lie_between_min_and_max",
        "h5p_answered",
        _set("result.score.raw", 3),
        "statement.result.score.raw",
    ),
    (
        "score_must_be_a_number_not_a_string",
        "h5p_answered",
        _set("result.score.raw", "2"),
        "statement.result.score.raw",
    ),
    (
        "success_must_be_a_boolean",
        "h5p_answered",
        _set("result.success", "true"),
        "statement.result.success",
    ),
    (
        "duration_must_be_iso_8601",
        "h5p_answered",
        _set("result.duration", "9.32 seconds"),
        "statement.result.duration",
    ),
    (
        "agent_must_have_exactly_one_identifier",
        "h5p_answered",
        _set("actor.openid", "http://openid.example.org/ada"),
        "statement.actor",
    ),
    (
        "mbox_must_be_a_mailto_iri",
        "h5p_answered",
        _set("actor.mbox", "ada.martin@example.org"),
        "statement.actor.mbox",
    ),
    (
        "account_must_have_a_home_page",
        "moodle_quiz_completed",
        _delete("actor.account.homePage"),
        "statement.actor.account.homePage",
    ),
    (
        "key_case_must_match_the_spec",
        "h5p_answered",
        lambda s: s.update({"Verb": s.pop("verb")}),
        "statement.Verb",
    ),
    (
        "unknown_properties_are_rejected",
        "h5p_answered",
        _set("result.grade", "A"),
        "statement.result.grade",
    ),
    (
        "null_is_rejected_outside_extensions",
        "h5p_answered",
        _set("context", None),
        "statement.context",
    ),
    (
        "language_map_keys_must_be_rfc5646_tags",
        "h5p_answered",
        _set("verb.display", {"a12345": "answered"}),
        "statement.verb.display.a12345",
    ),
    (
        "extension_keys_must_be_iris",
        "h5p_answered",
        _set("context.extensions", {"ending point": 1}),
        "statement.context.extensions",
    ),
    (
        "interaction_type_must_be_known",
        "h5p_answered",
        _set("object.definition.interactionType", "multiple"),
        "statement.object.definition.interactionType",
    ),
    (
        "interaction_components_must_fit_the_interaction_type",
        "h5p_answered",
        _set("object.definition.interactionType", "likert"),
        "statement.object.definition.choices",
    ),
    (
        "interaction_component_ids_must_be_unique",
        "h5p_answered",
        _set("object.definition.choices.1.id", "0"),
        "statement.object.definition.choices[1].id",
    ),
    (
        "revision_is_only_allowed_with_an_activity_object",
        "h5p_answered",
        lambda s: (
            s.update({"object": {"objectType": "Agent", "mbox": "mailto:b@example.org"}}),
            s["context"].update({"revision": "2"}),
        ),
        "statement.context.revision",
    ),
    (
        "timestamp_must_not_use_minus_zero_offset",
        "h5p_answered",
        _set("timestamp", "2008-09-15T15:53:00.601-0000"),
        "statement.timestamp",
    ),
    (
        "timestamp_must_be_iso_8601",
        "h5p_answered",
        _set("timestamp", "01/011/2015"),
        "statement.timestamp",
    ),
    (
        "version_must_be_1_0_x",
        "h5p_answered",
        _set("version", "1.1.0"),
        "statement.version",
    ),
    (
        "substatement_must_not_have_an_id",
        "h5p_answered",
        lambda s: s.update(
            {
                "object": {
                    "objectType": "SubStatement",
                    "id": "2f1c7d8a-6b1e-4f0a-9a43-3f5a0e9b7c21",
                    "actor": {"mbox": "mailto:b@example.org"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
                    "object": {"id": "http://example.org/a"},
                }
            }
        ),
        "statement.object.id",
    ),
    (
        "substatement_must_not_nest_a_substatement",
        "h5p_answered",
        lambda s: s.update(
            {
                "object": {
                    "objectType": "SubStatement",
                    "actor": {"mbox": "mailto:b@example.org"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
                    "object": {
                        "objectType": "SubStatement",
                        "actor": {"mbox": "mailto:b@example.org"},
                        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
                        "object": {"id": "http://example.org/a"},
                    },
                }
            }
        ),
        "statement.object.object.objectType",
    ),
    (
        "group_members_must_be_agents",
        "h5p_answered",
        _set(
            "actor",
            {
                "objectType": "Group",
                "member": [{"objectType": "Group", "member": [{"mbox": "mailto:b@example.org"}]}],
            },
        ),
        "statement.actor.member[0]",
    ),
    (
        "anonymous_group_must_list_members",
        "h5p_answered",
        _set("actor", {"objectType": "Group", "name": "Team"}),
        "statement.actor.member",
    ),
    (
        "attachment_must_have_a_sha2",
        "h5p_answered",
        _set(
            "attachments",
            [
                {
                    "usageType": "http://id.tincanapi.com/attachment/certificate-of-completion",
                    "display": {"fr": "Certificat"},
                    "contentType": "application/pdf",
                    "length": 12,
                }
            ],
        ),
        "statement.attachments[0].sha2",
    ),
    # What PostgreSQL text cannot hold (NUL) and what "$" would let through (a final
    # newline): refused as invalid, never a server error or a stored "id\n".
    (
        "iri_must_not_hold_a_nul",
        "h5p_answered",
        _set("object.id", "http://x.org/a\x00"),
        "statement.object.id",
    ),
    (
        "account_name_must_not_hold_a_nul",
        "moodle_quiz_completed",
        _set("actor.account.name", "2\x00"),
        "statement.actor.account.name",
    ),
    (
        "mbox_must_not_hold_a_nul",
        "h5p_answered",
        _set("actor", {"mbox": "mailto:a\x00@b.org"}),
        "statement.actor.mbox",
    ),
    (
        "id_must_not_end_with_a_newline",
        "cmi5_passed",
        _set("id", "8f87ccde-bb56-4c2e-ab83-44982ef22df0\n"),
        "statement.id",
    ),
    (
        "timestamp_must_stay_within_years_1_to_9999_in_utc",
        "h5p_answered",
        _set("timestamp", "9999-12-31T23:59:59-14:00"),
        "statement.timestamp",
    ),
    (
        "version_must_fit_its_column",
        "h5p_answered",
        _set("version", "1.0." + "3" * 30),
        "statement.version",
    ),
    (
        "iri_must_not_end_with_a_newline",
        "h5p_answered",
        _set("verb.id", "http://x.org/v\n"),
        "statement.verb.id",
    ),
]


@pytest.mark.parametrize(
    ("name", "mutation", "where"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_statement_breaking_a_must_is_rejected_naming_the_property(
    name: str, mutation: Mutation, where: str
) -> None:
    statement = copy.deepcopy(sample(name))
    mutation(statement)
    with pytest.raises(InvalidStatement) as error:
        validate_statement(statement)
    assert str(error.value).startswith(where), str(error.value)


def test_extension_values_may_be_null_or_empty() -> None:
    statement = sample("h5p_answered")
    statement["context"]["extensions"] = {"http://example.com/null": None, "http://e.com/x": {}}
    validate_statement(statement)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-03-02T09:15:27+01:00", "2026-03-02T08:15:27+00:00"),
        ("2026-03-02T09:15:27.123456Z", "2026-03-02T09:15:27.123456+00:00"),
        ("2026-03-02T09:15:27.1+0530", "2026-03-02T03:45:27.100000+00:00"),
    ],
)
def test_timestamps_are_read_as_utc_instants(text: str, iso: str) -> None:
    assert parse_timestamp(text, "t").isoformat() == iso


def test_stored_is_written_with_a_four_digit_year() -> None:
    """A pulled statement may claim an early ``stored``; the cursor must read back."""
    moment = parse_timestamp("0001-01-02T03:04:05.678Z", "stored")
    assert format_stored(moment) == "0001-01-02T03:04:05.678Z"
    assert parse_timestamp(format_stored(moment), "stored") == moment
