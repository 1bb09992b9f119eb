"""Which model the triage agent talks to: `LLM_MODEL` and the endpoint settings it names, read in one place.

    LLM_MODEL                              reaches                                           settings
    sandbox                                the deterministic sandbox model (no network)      -
    google:gemini-2.5-flash                Gemini                                            GOOGLE_API_KEY
    openai:gpt-4.1-mini                    OpenAI, Responses API                             OPENAI_API_KEY
    openai:<model> or openai-chat:<model>  any OpenAI-compatible chat-completions endpoint   OPENAI_BASE_URL
      (vLLM, llama.cpp's server, LM Studio, `ibt stacks run llm`)                            (+ OPENAI_API_KEY if it
                                                                                               wants one)
    ollama:qwen2.5-coder:1.5b              Ollama                                            OLLAMA_BASE_URL
                                                                                             (+ OLLAMA_API_KEY)
    anything else (anthropic:..., groq:...) handed to Pydantic AI, whose provider reads its own key

Self-hosted endpoints are wrapped so their failures are one line saying whose move it is: `ModelUnavailable` when
the endpoint does not answer, `ModelUnsupported` when the model cannot do tool calls or structured output (the
triage needs both). `model_problem` asks the endpoint once, so a command line can refuse to start a run against a
server that is down. Cost comes from Pydantic AI's pricing (genai-prices) where the model is known; for others
`RunUsage.cost` stays None and the status comment says "not priced".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpx
from pydantic_ai.exceptions import ModelAPIError, ModelConnectionError, ModelContextWindowExceededError, ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from agentic.errors import ModelBudgetExceeded, ModelUnavailable, ModelUnsupported
from agentic.settings import Settings

if TYPE_CHECKING:
    import httpx2  # the OpenAI SDK's HTTP client (httpx's successor), which the providers take

# Placeholder sent when a self-hosted endpoint needs no key (the OpenAI client insists on one).
NO_KEY = "not-needed"
# Words an endpoint uses when it refuses tools or a response format (llama.cpp without --jinja, Ollama for a model
# without tool support, vLLM without --enable-auto-tool-choice).
_UNSUPPORTED_HINTS = ("tool", "function", "response_format", "json_schema", "jinja", "grammar")


@dataclass(frozen=True)
class Endpoint:
    """A self-hosted model server: where it is and what LLM_MODEL/settings named it (for messages)."""

    base_url: str
    model_name: str
    setting: str  # the variable that holds base_url


def endpoint_of(settings: Settings) -> Endpoint | None:
    """The OpenAI-compatible endpoint LLM_MODEL points at, or None (sandbox, Google, OpenAI itself, others)."""
    provider, _, name = settings.llm_model.partition(":")
    if provider == "ollama":
        return Endpoint(settings.ollama_base_url.rstrip("/"), name, "OLLAMA_BASE_URL")
    if provider in ("openai", "openai-chat") and settings.openai_base_url:
        return Endpoint(settings.openai_base_url.rstrip("/"), name, "OPENAI_BASE_URL")
    return None


def _endpoint_settings(settings: Settings) -> ModelSettings:
    return ModelSettings(timeout=settings.llm_timeout_seconds)


def build_model(settings: Settings, *, http_client: httpx2.AsyncClient | None = None) -> Model | str:
    """The triage model for `settings.llm_model` (see the table above); keys come from Settings, not os.environ.

    `http_client` carries a self-hosted endpoint's requests (its own proxy or CA, or the endpoint as an app in this
    process, as the tests use it); None: the provider's shared client."""
    name = settings.llm_model
    if name == "sandbox":
        from agentic.sandbox.model import sandbox_model

        return sandbox_model()
    provider, _, model_name = name.partition(":")
    endpoint = endpoint_of(settings)
    if endpoint is not None and provider == "ollama":
        from pydantic_ai.models.ollama import OllamaModel
        from pydantic_ai.providers.ollama import OllamaProvider

        key = settings.ollama_api_key.get_secret_value() if settings.ollama_api_key else NO_KEY
        ollama = OllamaProvider(base_url=endpoint.base_url, api_key=key, http_client=http_client)
        return EndpointModel(OllamaModel(model_name, provider=ollama, settings=_endpoint_settings(settings)), endpoint)
    if endpoint is not None:
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY
        openai = OpenAIProvider(base_url=endpoint.base_url, api_key=key, http_client=http_client)
        return EndpointModel(OpenAIChatModel(model_name, provider=openai, settings=_endpoint_settings(settings)),
                             endpoint)
    if provider == "google" and settings.google_api_key:
        from pydantic_ai.models.google import GoogleModel
        from pydantic_ai.providers.google import GoogleProvider

        return GoogleModel(model_name, provider=GoogleProvider(api_key=settings.google_api_key.get_secret_value()))
    if provider in ("openai", "openai-chat", "openai-responses") and settings.openai_api_key:
        from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
        from pydantic_ai.providers.openai import OpenAIProvider

        model_class = OpenAIChatModel if provider == "openai-chat" else OpenAIResponsesModel
        return model_class(model_name, provider=OpenAIProvider(api_key=settings.openai_api_key.get_secret_value()))
    return name


def model_problem(settings: Settings, timeout: float = 5.0, *,
                  transport: httpx.BaseTransport | None = None) -> str | None:
    """None when LLM_MODEL needs no endpoint or its endpoint answers `GET /models`; else one line saying which
    endpoint is down and how to start it. One request, no retries (the OpenAI client would retry for a while).
    `transport`: how the request reaches the endpoint (None: the network; an app in this process in the tests)."""
    endpoint = endpoint_of(settings)
    if endpoint is None:
        return None
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            response = client.get(f"{endpoint.base_url}/models")
    except httpx.HTTPError as exc:
        return unavailable_message(endpoint, exc.__class__.__name__)
    if response.status_code >= 500:
        return unavailable_message(endpoint, f"HTTP {response.status_code} on /models")
    return None


def check_endpoint(settings: Settings) -> None:
    """`ModelUnavailable` (one line) when LLM_MODEL's endpoint does not answer; the command lines call it first."""
    problem = model_problem(settings)
    if problem is not None:
        raise ModelUnavailable(problem)


def unavailable_message(endpoint: Endpoint, problem: str) -> str:
    start = "`ollama serve`" if endpoint.setting == "OLLAMA_BASE_URL" else "`ibt stacks run llm` or your server"
    return (f"model endpoint {endpoint.base_url} is not reachable ({problem}); start it ({start}) or set "
            f"{endpoint.setting}")


def unsupported_message(endpoint: Endpoint, problem: str) -> str:
    return (f"model {endpoint.model_name!r} at {endpoint.base_url} cannot do tool calls or structured output, which "
            f"triage needs ({' '.join(problem.split())[:200]}); choose a model with tool calling (for llama.cpp start "
            "the server with --jinja)")


def _answered_in_text_again(messages: list[ModelMessage], response: ModelResponse) -> bool:
    """A second plain-text answer in a row where only a tool call would do: Pydantic AI told the model after the
    first one to answer with a tool call, so this model does not do tool calls."""
    def text_only(answer: ModelResponse) -> bool:
        return not any(isinstance(part, ToolCallPart) for part in answer.parts) and any(
            isinstance(part, TextPart) and part.content.strip() for part in answer.parts)

    previous = next((m for m in reversed(messages) if isinstance(m, ModelResponse)), None)
    return previous is not None and text_only(previous) and text_only(response)


class EndpointModel(WrapperModel):
    """A model on a self-hosted endpoint: its failures become `ModelUnavailable` / `ModelUnsupported`."""

    def __init__(self, wrapped: Model, endpoint: Endpoint) -> None:
        super().__init__(wrapped)
        self.endpoint = endpoint

    def _translate(self, exc: ModelAPIError) -> Exception:
        if isinstance(exc, ModelConnectionError):
            return ModelUnavailable(unavailable_message(self.endpoint, exc.__class__.__name__))
        text = " ".join(f"{getattr(exc, 'message', '')} {getattr(exc, 'body', '')} {exc}".lower().split())
        if isinstance(exc, ModelContextWindowExceededError) or "context size" in text or "context length" in text:
            # llama.cpp: 400 exceed_context_size_error, which Pydantic AI does not recognise as a context error.
            return ModelBudgetExceeded(
                f"the triage outgrew the context window of {self.endpoint.model_name!r} at {self.endpoint.base_url} "
                f"({text[:160]}); give the server a larger context (`python -m agentic.llm serve --ctx`), lower "
                "LLM_TOOL_RESULT_CHARS or MAX_ISSUE_BODY_CHARS")
        if isinstance(exc, ModelHTTPError) and exc.status_code in (400, 422, 500, 501):
            text = f"{exc.message} {exc.body}".lower()
            if any(hint in text for hint in _UNSUPPORTED_HINTS):
                return ModelUnsupported(unsupported_message(self.endpoint, f"HTTP {exc.status_code}: {exc.body}"))
        return exc

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        try:
            response = await super().request(messages, model_settings, model_request_parameters)
        except ModelAPIError as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from exc
        if not model_request_parameters.allow_text_output and _answered_in_text_again(messages, response):
            raise ModelUnsupported(unsupported_message(self.endpoint, "it answered in plain text twice where a "
                                                                      "tool call was required"))
        if model_request_parameters.output_tools and response.finish_reason == "length" and \
                not any(isinstance(part, ToolCallPart) for part in response.parts):
            # A server that does not enforce tool_choice=required (llama.cpp's, for Qwen2.5-Coder: measured) lets a
            # small model write its brief as prose until the answer cap. Pydantic AI would read that as cut-off
            # structured output and stop; it is prose where a tool call was due, so it gets the same one retry
            # ("answer with a tool call") as prose that ended on its own.
            response = replace(response, finish_reason="stop")
        return response

    @asynccontextmanager
    async def request_stream(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                             model_request_parameters: ModelRequestParameters,
                             run_context: Any = None) -> AsyncIterator[StreamedResponse]:
        try:
            async with super().request_stream(messages, model_settings, model_request_parameters,
                                              run_context) as stream:
                yield stream
        except ModelAPIError as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from exc
