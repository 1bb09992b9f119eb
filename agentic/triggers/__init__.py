"""The GitHub webhook receiver: labels, mentions, `/jules` and assignments become Prefect runs (docs/triggers.md).

    python -m agentic.triggers --host 127.0.0.1 --port 3200      # or: ibt stacks run prefect mcp-hub triggers
"""

from agentic.triggers.app import WEBHOOK_PATH, ReceiverConfig, create_app
from agentic.triggers.launch import idempotency_key
from agentic.triggers.rules import DEFAULT_RULES_PATH, Ignored, Rules, RuleSet, Trigger, load_rules, match

__all__ = ["DEFAULT_RULES_PATH", "WEBHOOK_PATH", "Ignored", "ReceiverConfig", "RuleSet", "Rules", "Trigger",
           "create_app", "idempotency_key", "load_rules", "match"]
