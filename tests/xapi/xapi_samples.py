"""Statements as real activity providers send them (Moodle logstore_xapi, H5P, cmi5)."""

from __future__ import annotations

from typing import Any

BASE_URL = "http://tool.test"  # as the app fixture sets it
MOODLE = "https://moodle.example.org"
OTHER_MOODLE = "https://moodle.other-school.fr"
FRAMEWORK_IRI = f"{BASE_URL}/referentiels/diplovis-bgdc"
OBJECTIVE = "http://adlnet.gov/expapi/activities/objective"


def competency_iri(path: str) -> str:
    return f"{FRAMEWORK_IRI}/{path}"


def moodle_quiz_completed(
    user_id: str,
    cmid: int,
    *,
    raw: float,
    max_: float = 20,
    success: bool = True,
    site: str = MOODLE,
    course: int = 7,
    attempt: int = 31,
) -> dict[str, Any]:
    """What Moodle's logstore_xapi sends when a quiz attempt is submitted (its
    attempt_submitted transformer): the quiz as object, the attempt in 'other', the
    site and the course in 'grouping', the source in 'category'."""
    return {
        "actor": {
            "objectType": "Agent",
            "name": f"Learner {user_id}",
            "account": {"homePage": site, "name": user_id},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"fr": "completed"}},
        "object": {
            "objectType": "Activity",
            "id": f"{site}/mod/quiz/view.php?id={cmid}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/assessment",
                "name": {"fr": "Quiz : prospection commerciale"},
            },
        },
        "timestamp": "2026-11-20T09:15:00+01:00",
        "result": {
            "score": {"raw": raw, "min": 0, "max": max_, "scaled": round(raw / max_, 4)},
            "completion": True,
            "success": success,
            "duration": "PT12M30S",
        },
        "context": {
            "platform": "Moodle",
            "language": "fr",
            "contextActivities": {
                "other": [
                    {
                        "id": f"{site}/mod/quiz/attempt.php?attempt={attempt}&cmid={cmid}",
                        "definition": {"type": "http://adlnet.gov/expapi/activities/attempt"},
                    }
                ],
                "grouping": [
                    {
                        "id": site,
                        "definition": {"type": "http://id.tincanapi.com/activitytype/lms"},
                    },
                    {
                        "id": f"{site}/course/view.php?id={course}",
                        "definition": {"type": "http://id.tincanapi.com/activitytype/lms/course"},
                    },
                ],
                "category": [
                    {
                        "id": "http://moodle.org",
                        "definition": {"type": "http://id.tincanapi.com/activitytype/source"},
                    }
                ],
            },
        },
    }


def moodle_quiz_completed_older(user_id: str, cmid: int, *, raw: float) -> dict[str, Any]:
    """The shape of older logstore_xapi versions: the attempt as object, the quiz as parent."""
    statement = moodle_quiz_completed(user_id, cmid, raw=raw)
    attempt = statement["context"]["contextActivities"].pop("other")[0]
    quiz = statement["object"]
    statement["object"] = {"objectType": "Activity", **attempt}
    statement["context"]["contextActivities"]["parent"] = [
        {"id": quiz["id"], "definition": quiz["definition"]}
    ]
    return statement


def h5p_answered(
    email: str, content_id: int, *, raw: int, max_: int, with_scaled: bool = True
) -> dict[str, Any]:
    """What an H5P interaction sends from a WordPress or Drupal site (mbox actor)."""
    score: dict[str, Any] = {"min": 0, "max": max_, "raw": raw}
    if with_scaled:
        score["scaled"] = raw / max_
    return {
        "actor": {"name": "Camille Martin", "mbox": f"mailto:{email}", "objectType": "Agent"},
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/answered",
            "display": {"en-US": "answered"},
        },
        "object": {
            "id": f"https://h5p.example.org/wp-admin/admin-ajax.php?action=h5p_embed&id={content_id}",
            "objectType": "Activity",
            "definition": {
                "extensions": {"http://h5p.org/x-api/h5p-local-content-id": content_id},
                "name": {"en-US": "Négociation : questions"},
                "interactionType": "choice",
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            },
        },
        "context": {
            "contextActivities": {
                "category": [
                    {
                        "id": "http://h5p.org/libraries/H5P.MultiChoice-1.16",
                        "objectType": "Activity",
                    }
                ]
            }
        },
        "result": {
            "score": score,
            "completion": True,
            "success": raw * 2 >= max_,
            "duration": "PT41.5S",
        },
    }


def cmi5_passed(
    user_id: str,
    competency: str,
    *,
    scaled: float,
    site: str = MOODLE,
    success: bool | None = True,
    masteryscore: float = 0.7,
    verb: str = "passed",
) -> dict[str, Any]:
    """A cmi5 AU's 'passed' statement, tagged with the competency it assesses."""
    result: dict[str, Any] = {"score": {"scaled": scaled}, "duration": "PT18M"}
    if success is not None:
        result["success"] = success
    return {
        "actor": {"objectType": "Agent", "account": {"homePage": site, "name": user_id}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}", "display": {"en-US": verb}},
        "object": {
            "id": "https://content.example.org/cmi5/negociation/au-1",
            "objectType": "Activity",
            "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"},
        },
        "timestamp": "2026-11-21T14:02:11.250Z",
        "result": result,
        "context": {
            "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
            "contextActivities": {
                "parent": [
                    {
                        "id": competency_iri(competency),
                        "objectType": "Activity",
                        "definition": {"type": OBJECTIVE},
                    }
                ],
                "category": [
                    {"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"},
                    {"id": "https://w3id.org/xapi/cmi5/context/categories/moveon"},
                ],
            },
            "extensions": {
                "https://w3id.org/xapi/cmi5/context/extensions/sessionid": "b0c1",
                "https://w3id.org/xapi/cmi5/context/extensions/masteryscore": masteryscore,
            },
        },
    }
