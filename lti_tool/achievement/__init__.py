"""Achievement persistence: rules in force, computed states, jury, overrides, gradebook sync.

Importing the package connects the recomputation to ``xapi.signals.evidence_changed``
(``lti_tool.models`` imports it, so any code that touches the database has it).
"""

from lti_tool.achievement import recompute as recompute  # connects the receiver
