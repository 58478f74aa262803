"""Which optional track (Bloc 7a or 7b) each learner follows, and so what their total counts.

One rule for the pages and the gradebook: a learner's total is the competencies of the
mandatory blocs plus those of the track they follow in each option group. The track is
the one recorded for them (:func:`lti_tool.achievement.jury.choose_track`), else the one
inferred by :func:`referentiel.certification.infer_track` (the track the jury validated,
else the one with the most competencies acquired). While neither tells, the track is
*unknown*: pages say so, and the total counts the group's first track, which is what the
gradebook sends as the denominator until the track is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.achievement.models import BlocState, LearnerTrack
from referentiel.certification import BlocProgress, BlocStanding, infer_track
from referentiel.models import Bloc


@dataclass(frozen=True)
class FollowedTrack:
    option_group: str
    bloc: Bloc | None  # None: neither chosen nor inferred
    chosen: bool  # recorded by a trainer (else inferred, or unknown)


@dataclass(frozen=True)
class Counted:
    """The blocs a learner's total counts among some blocs, and the tracks behind it."""

    blocs: list[Bloc]
    tracks: list[FollowedTrack]

    @property
    def bloc_ids(self) -> set[int]:
        return {b.id for b in self.blocs}

    @property
    def track_unknown(self) -> bool:
        return any(t.bloc is None for t in self.tracks)


def _option_groups(blocs: Iterable[Bloc]) -> dict[str, list[Bloc]]:
    groups: dict[str, list[Bloc]] = {}
    for bloc in blocs:
        if bloc.optional and bloc.option_group:
            groups.setdefault(bloc.option_group, []).append(bloc)
    return groups


def counted_blocs(
    session: Session, learner_ids: Sequence[int], blocs: Sequence[Bloc]
) -> dict[int, Counted]:
    """For each learner, the blocs among ``blocs`` their total counts (two queries at most).

    Option groups with a single member among ``blocs`` (a link placing only Bloc 7b)
    count that member: there is nothing to choose between.
    """
    groups = {g: members for g, members in _option_groups(blocs).items() if len(members) > 1}
    ids = list(learner_ids)
    chosen: dict[tuple[int, str], int] = {}
    states: dict[tuple[int, int], BlocState] = {}
    optional_ids = [b.id for members in groups.values() for b in members]
    if groups and ids:
        for track in session.scalars(
            select(LearnerTrack).where(
                LearnerTrack.learner_id.in_(ids), LearnerTrack.bloc_id.in_(optional_ids)
            )
        ):
            chosen[(track.learner_id, track.option_group)] = track.bloc_id
        for state in session.scalars(
            select(BlocState).where(
                BlocState.learner_id.in_(ids), BlocState.bloc_id.in_(optional_ids)
            )
        ):
            states[(state.learner_id, state.bloc_id)] = state
    return {learner_id: _counted(learner_id, blocs, groups, chosen, states) for learner_id in ids}


def _counted(
    learner_id: int,
    blocs: Sequence[Bloc],
    groups: dict[str, list[Bloc]],
    chosen: dict[tuple[int, str], int],
    states: dict[tuple[int, int], BlocState],
) -> Counted:
    tracks: list[FollowedTrack] = []
    counted: set[int] = set()
    for group, members in groups.items():
        by_id = {b.id: b for b in members}
        chosen_id = chosen.get((learner_id, group))
        if chosen_id in by_id:
            tracks.append(FollowedTrack(group, by_id[chosen_id], chosen=True))
            counted.add(chosen_id)
            continue
        progress = []
        for b in members:
            state = states.get((learner_id, b.id))
            progress.append(
                BlocProgress(
                    key=b.key,
                    optional=True,
                    option_group=group,
                    standing=BlocStanding(state.state) if state else BlocStanding.NON_ACQUIS,
                    acquired=state.acquired if state else 0,
                )
            )
        key = infer_track(progress)
        followed = next((b for b in members if b.key == key), None)
        tracks.append(FollowedTrack(group, followed, chosen=False))
        counted.add((followed or members[0]).id)
    in_groups = {b.id for members in groups.values() for b in members}
    return Counted(
        blocs=[b for b in blocs if b.id not in in_groups or b.id in counted], tracks=tracks
    )
