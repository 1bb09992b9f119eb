"""Exceptions of the `agentic` package.

    AgenticError                      base: every error this package raises on purpose
    ├── ConfigError                   bad settings, malformed files (user's move: fix the input)
    ├── StackError                    the native stack cannot start or stop (port busy, missing binary)
    ├── HubError                      the MCP hub answered with an error or is unreachable
    │   ├── HubUnavailable            transport failure: retryable
    │   └── ToolCallFailed            a tool answered an error, with the upstream's HTTP status (hub/mcp_client.py)
    │       └── TransientToolFailure  429, 5xx, an upstream down or slow: retryable
    ├── BadIssueUrl                   not a GitHub issue URL (PR URL, malformed) — raised before any side effect
    ├── IssueNotFound                 the issue does not exist or the token cannot see it
    ├── SourceNotConnected            Jules is not installed on the repository
    ├── DispatchLockStuck             the claims' lock stayed taken for its whole wait (agentic/dispatch/claims.py)
    ├── ClaimLost                     another run owns the issue now: stop writing (agentic/dispatch/claims.py)
    ├── UnexpectedObservation         the lifecycle has no transition for it in this phase (agentic/lifecycle)
    ├── Ended                         the run stops in a phase the status comment shows (workflows/run.py)
    ├── DeployError                   a deployment or work pool could not be set up (deployment/pools.py)
    ├── InvalidSignature, BadDelivery a webhook delivery not signed with our secret / not a delivery (triggers)
    ├── DeploymentNotFound            the deployment a trigger starts does not exist (triggers/launch.py)
    ├── JulesError                    Jules API said no (`status`: the HTTP status when there is one)
    │   ├── JulesQuotaExceeded        429 RESOURCE_EXHAUSTED: retryable later
    │   ├── JulesSourceBusy           400 "Could not get source" on create under parallel load: retryable later
    │   └── JulesSessionFailed        the session ended FAILED, timed out or went silent
    ├── ModelBudgetExceeded           the triage would exceed (or exceeded) the model usage caps: not retried
    │   └── PromptTooLarge            the token estimate of the prompt is over the cap, before any model call
    ├── ModelError                    a self-hosted model endpoint failed (agentic/agent/models.py)
    │   ├── ModelUnavailable          the endpoint does not answer: retryable
    │   └── ModelUnsupported          the model cannot do tool calls or structured output: final
    └── TransientError                5xx / connection problems: Prefect retries only these
        ├── GitHubUnavailable         GitHub could not answer now (the receiver: redeliver)
        ├── PrefectUnavailable        Prefect could not answer now (the receiver: redeliver)
        └── MalformedAnswer, ActivitiesNotReady   Jules' answers worth one more try (jules/client.py)

Messages say what failed, the value involved and the next step.
"""

from __future__ import annotations


class AgenticError(Exception):
    """Base of every error raised on purpose by this package."""


class ConfigError(AgenticError, ValueError):
    """Settings or a configuration file are invalid."""


class StackError(AgenticError, RuntimeError):
    """A native stack service cannot start, or a port is taken."""


class HubError(AgenticError):
    """The MCP hub refused a request."""


class TransientError(AgenticError):
    """A failure worth retrying: connection errors, timeouts, 5xx answers."""


class HubUnavailable(HubError, TransientError):
    """The MCP hub cannot be reached."""


class BadIssueUrl(AgenticError, ValueError):
    """The URL does not name a GitHub issue."""


class IssueNotFound(AgenticError, LookupError):
    """The issue does not exist, or the token cannot see it."""


class SourceNotConnected(AgenticError, LookupError):
    """Jules has no source for the repository: the Jules GitHub app is not installed there."""


class JulesError(AgenticError):
    """The Jules API refused a request. `status`: its HTTP status, when the hub passed one on."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JulesQuotaExceeded(JulesError, TransientError):
    """The Jules API answered 429 RESOURCE_EXHAUSTED (daily or concurrent session cap)."""


class JulesSourceBusy(JulesError, TransientError):
    """createSession answered 400 INVALID_ARGUMENT "Could not get source" for a source listSources shows: what live
    Jules answers to parallel creates (jules-sdk#20). Nothing to fix on our side; the queue creates again later."""


class JulesSessionFailed(JulesError):
    """A Jules session ended FAILED, timed out, or stopped reporting activity."""


class ModelBudgetExceeded(AgenticError):
    """The triage model run hit a usage cap (`LLM_REQUEST_LIMIT`, `LLM_TOTAL_TOKENS_LIMIT`): not worth retrying."""


class PromptTooLarge(ModelBudgetExceeded, ValueError):
    """The estimated tokens of the triage prompt exceed the cap: raised before any model call, no tokens spent."""


class ModelError(AgenticError):
    """A self-hosted model endpoint (OPENAI_BASE_URL, OLLAMA_BASE_URL) failed."""


class ModelUnavailable(ModelError, TransientError):
    """The model endpoint does not answer (down, wrong URL)."""


class ModelUnsupported(ModelError):
    """The model cannot do tool calls or structured output, which the triage needs: not worth retrying."""


class GitHubUnavailable(TransientError):
    """A call GitHub could not answer now (5xx, rate limit, network): worth a redelivery."""


class PrefectUnavailable(TransientError):
    """Prefect could not answer now (down, 5xx): worth a redelivery."""


class DeploymentNotFound(AgenticError, LookupError):
    """The deployment a trigger would start does not exist (not deployed yet, or another name)."""


class InvalidSignature(AgenticError):
    """The delivery is not signed with our secret (answer 401)."""


class BadDelivery(AgenticError, ValueError):
    """Not a GitHub webhook delivery (answer 400)."""
