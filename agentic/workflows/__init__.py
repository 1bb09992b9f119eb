"""The product's Prefect flows: the issue flow (jules_workflow.py, driving agentic/lifecycle), batch, archive."""

FLOW_NAME = "jules-agent-workflow"
