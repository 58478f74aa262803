"""Bloc and certification achievement, derived from competency states and jury decisions.

As a trainer reads it:

* A **competency** stands as the jury decided it (*validé* / *non validé*), else as a
  trainer set it by hand (with a reason), else as the rules computed it.
* A **bloc** is *prêt pour le jury* when every one of its competencies is acquis (or
  validé); the rules never validate a bloc: only a jury decision makes it *validé* or
  *non validé*, and that decision stands over what the competencies say. Otherwise it
  is *en cours* as soon as one competency has evidence, else *non acquis*.
* The **certification** is achieved when every mandatory bloc is validé and, in each
  option group (the two Bloc 7 tracks), the learner's track is validé. The track is the
  one recorded for the learner; when none is recorded it is inferred: the bloc of the
  group the jury validated, else the one with the most competencies acquired (none
  while they are tied).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from referentiel.jury import Decision


class CompetencyStanding(StrEnum):
    NON_ACQUIS = "non_acquis"
    EN_COURS = "en_cours"
    ACQUIS = "acquis"
    VALIDE = "valide"
    NON_VALIDE = "non_valide"


class BlocStanding(StrEnum):
    NON_ACQUIS = "non_acquis"
    EN_COURS = "en_cours"
    PRET_POUR_JURY = "pret_pour_jury"
    VALIDE = "valide"
    NON_VALIDE = "non_valide"


class CertificationStanding(StrEnum):
    NON_ACQUIS = "non_acquis"
    EN_COURS = "en_cours"
    CERTIFIE = "certifie"


ACQUIRED = frozenset({CompetencyStanding.ACQUIS, CompetencyStanding.VALIDE})


def competency_standing(
    computed: str, override: str | None, jury: Decision | None
) -> tuple[CompetencyStanding, str]:
    """What stands for a competency, and who said so (``jury``, ``override`` or ``rule``)."""
    if jury is not None:
        standing = (
            CompetencyStanding.VALIDE
            if jury is Decision.VALIDATED
            else CompetencyStanding.NON_VALIDE
        )
        return standing, "jury"
    if override is not None:
        return CompetencyStanding(override), "override"
    return CompetencyStanding(computed), "rule"


def bloc_standing(competencies: Iterable[str], jury: Decision | None) -> BlocStanding:
    if jury is not None:
        return BlocStanding.VALIDE if jury is Decision.VALIDATED else BlocStanding.NON_VALIDE
    states = [CompetencyStanding(s) for s in competencies]
    if states and all(s in ACQUIRED for s in states):
        return BlocStanding.PRET_POUR_JURY
    if any(s is not CompetencyStanding.NON_ACQUIS for s in states):
        return BlocStanding.EN_COURS
    return BlocStanding.NON_ACQUIS


@dataclass(frozen=True)
class BlocProgress:
    key: str
    optional: bool
    option_group: str | None
    standing: BlocStanding
    acquired: int = 0


@dataclass(frozen=True)
class Certification:
    standing: CertificationStanding
    tracks: Mapping[str, str | None]  # option group → bloc key followed (None: unknown)
    missing: tuple[str, ...]  # bloc keys (or option groups) not yet validé


def infer_track(blocs: Iterable[BlocProgress]) -> str | None:
    """The bloc of an option group a learner follows, when no choice was recorded."""
    candidates = list(blocs)
    validated = [b for b in candidates if b.standing is BlocStanding.VALIDE]
    if validated:
        return validated[0].key
    most = max((b.acquired for b in candidates), default=0)
    leaders = [b for b in candidates if b.acquired == most]
    if most > 0 and len(leaders) == 1:
        return leaders[0].key
    return None


def certification(
    blocs: Iterable[BlocProgress], chosen_tracks: Mapping[str, str] | None = None
) -> Certification:
    blocs = list(blocs)
    chosen_tracks = chosen_tracks or {}
    groups: dict[str, list[BlocProgress]] = {}
    required: list[BlocProgress] = []
    for bloc in blocs:
        if bloc.optional and bloc.option_group:
            groups.setdefault(bloc.option_group, []).append(bloc)
        else:
            required.append(bloc)
    tracks: dict[str, str | None] = {}
    missing = [b.key for b in required if b.standing is not BlocStanding.VALIDE]
    for group, members in groups.items():
        track = chosen_tracks.get(group) or infer_track(members)
        tracks[group] = track
        followed = next((b for b in members if b.key == track), None)
        if followed is None:
            missing.append(group)
        elif followed.standing is not BlocStanding.VALIDE:
            missing.append(followed.key)
    if not missing:
        standing = CertificationStanding.CERTIFIE
    elif any(b.standing is not BlocStanding.NON_ACQUIS for b in blocs):
        standing = CertificationStanding.EN_COURS
    else:
        standing = CertificationStanding.NON_ACQUIS
    return Certification(standing=standing, tracks=tracks, missing=tuple(missing))
