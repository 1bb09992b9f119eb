"""GitHub REST simulator: the subset @modelcontextprotocol/server-github and our flow use (docs/sandbox-github.md).

    app = create_app({"seed": load_seed_file("agentic/sandbox/demo.yaml")})
    python -m agentic.sandbox.github --port 3101 --seed agentic/sandbox/demo.yaml
"""

from agentic.sandbox.github.app import create_app
from agentic.sandbox.github.redirect import node_env
from agentic.sandbox.github.seed import DEMO_SEED, SeedError, load_seed_file
from agentic.sandbox.github.web import SimConfig
from agentic.sandbox.github.webhooks import sign

__all__ = ["DEMO_SEED", "SeedError", "SimConfig", "create_app", "load_seed_file", "node_env", "sign"]
