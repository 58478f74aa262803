"""Signals that let the outer layer react to evidence without ``xapi`` importing it.

``evidence_changed`` is sent inside the transaction that changed evidence, with
``touched``: a set of ``(learner_id, competency_id)`` pairs. Derivation also sends
``added``, the evidence rows it inserted (dicts of ``Evidence`` columns), and
``withdrawn``, the pairs that lost evidence: for a pair that lost none, the rows added
are all that changed. Receivers (achievement recomputation) must do their writes in
that same session, so that a score change and its cause commit together.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

evidence_changed = _signals.signal("evidence-changed")
