"""`python tests/triggers/serve_deployment.py NAME`: serve the product's flow as deployment NAME (tests, benches).

A script, not `-c`: `flow.serve` starts each run in a spawned process, which re-imports the main module; the
`__main__` guard keeps that import from serving again."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from agentic.workflows.jules_workflow import FLOW_NAME, jules_agent_workflow
    from agentic.workflows.plan_approval import expired_wait_trigger

    jules_agent_workflow.serve(name=sys.argv[1], tags=["jules", "github"], print_starting_message=False,
                               limit=int(sys.argv[2]) if len(sys.argv) > 2 else None,
                               triggers=[expired_wait_trigger(FLOW_NAME, sys.argv[1])])
