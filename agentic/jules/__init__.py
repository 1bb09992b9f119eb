"""Google Jules: typed resources (`models`), the open state set (`states`), idempotent operations through the MCP
hub (`client`) and the pure session-following state machine (`follow`). The API itself is described once, in
`agentic/jules.schema.json`, which the hub, the simulator and these models share."""

from agentic.jules.client import JulesClient
from agentic.jules.follow import FollowView, advance, replay
from agentic.jules.models import Activity, ChangeSet, Plan, PullRequest, Session

__all__ = ["Activity", "ChangeSet", "FollowView", "JulesClient", "Plan", "PullRequest", "Session", "advance",
           "replay"]
