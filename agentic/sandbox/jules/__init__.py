"""Jules v1alpha API simulator, driven by `agentic/jules.schema.json` (see docs/sandbox-jules.md).

    create_app(JulesSimConfig(...))   the ASGI app (Starlette); `app.state.simulator` is its state
    python -m agentic.sandbox.jules --host 127.0.0.1 --port 3102 --github-url http://127.0.0.1:3101 [--config F]

Sessions follow scripted lifecycles on a configurable clock, open real pull requests on the GitHub simulator
(AUTO_CREATE_PR), enforce per-key quotas and answer errors in Google's format; `/_sim/*` routes expose state,
scenarios and fault injection to tests. `profile: live` (`live.py`) adds what the live API does beyond its
reference: approval carried forward, open states, empty outputs, late activity lists, shared createTimes.
"""

from agentic.sandbox.jules.app import JulesSimulator, create_app
from agentic.sandbox.jules.config import (
    DEFAULT_API_KEY,
    DEMO_CONFIG,
    FaultRule,
    JulesSimConfig,
    LiveConfig,
    QuotaConfig,
    ScenarioRule,
    SourceConfig,
    load_config,
)
from agentic.sandbox.jules.live import LIVE_VARIANT_STATES

__all__ = [
    "DEFAULT_API_KEY", "DEMO_CONFIG", "FaultRule", "JulesSimConfig", "JulesSimulator", "LIVE_VARIANT_STATES",
    "LiveConfig", "QuotaConfig", "ScenarioRule", "SourceConfig", "create_app", "load_config",
]
