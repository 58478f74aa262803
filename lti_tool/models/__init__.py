"""Every mapped table of the project, imported in one place for Alembic."""

from lti_tool.achievement.models import (
    BlocState,
    CompetencyOverride,
    CompetencyState,
    GradebookLineItem,
    JuryDecision,
    JurySignoff,
    LearnerTrack,
    RuleSetVersion,
    ScoreOutbox,
    ScoreSyncState,
)
from lti_tool.models.launch_storage import LaunchStorageEntry
from lti_tool.models.people import CourseContext, LtiUser, Membership
from lti_tool.models.platform import Deployment, Platform
from lti_tool.models.platform_token import PlatformAccessToken
from lti_tool.models.resource_link import ResourceLink
from lti_tool.models.tool_key import ToolKey
from lti_tool.models.worker_heartbeat import WorkerHeartbeat
from referentiel.audit import AuditEvent
from referentiel.models import Activity, Bloc, Competency, Criterion, Framework
from referentiel.orm import Base
from xapi.models import (
    Attachment,
    Credential,
    Document,
    Evidence,
    LearnerKey,
    MappingRule,
    PullSource,
    Statement,
    StatementActivity,
    StatementAgent,
)

__all__ = [
    "Activity",
    "Attachment",
    "AuditEvent",
    "Base",
    "Bloc",
    "BlocState",
    "Competency",
    "CompetencyOverride",
    "CompetencyState",
    "CourseContext",
    "Credential",
    "Criterion",
    "Deployment",
    "Document",
    "Evidence",
    "Framework",
    "GradebookLineItem",
    "JuryDecision",
    "JurySignoff",
    "LaunchStorageEntry",
    "LearnerKey",
    "LearnerTrack",
    "LtiUser",
    "MappingRule",
    "Membership",
    "Platform",
    "PlatformAccessToken",
    "PullSource",
    "ResourceLink",
    "RuleSetVersion",
    "ScoreOutbox",
    "ScoreSyncState",
    "Statement",
    "StatementActivity",
    "StatementAgent",
    "ToolKey",
    "WorkerHeartbeat",
]
