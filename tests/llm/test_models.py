"""Every LLM_MODEL form builds the model it names, with its settings; a self-hosted endpoint's failures are one line.

The endpoint cases run Pydantic AI's real OpenAI client against a small OpenAI-compatible endpoint in this process
(httpx.MockTransport, handed to `build_model` / `model_problem`) that answers what llama.cpp and Ollama answer
(their error bodies for a model without tool support), or against a loopback port nothing listens on; one command
line runs as a real process. No model, fast."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import httpx
import httpx2
import pytest
from pydantic_ai import Agent
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.ollama import OllamaModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel

from agentic.agent.brief import Triage
from agentic.agent.models import EndpointModel, build_model, check_endpoint, endpoint_of, model_problem
from agentic.errors import ConfigError, ModelBudgetExceeded, ModelUnavailable, ModelUnsupported
from agentic.settings import get_settings, load_settings
from agentic.stacks.ports import free_port

ROOT = Path(__file__).resolve().parents[2]

# The OpenAI client's request headers name the platform (platform.platform(), which runs `uname -p` once per
# process): asked here, at import, so the census does not count the first test that sends a request as one that
# starts a process.
platform.platform()


def settings(**values):
    base = {"google_api_key": None, "openai_api_key": None, "openai_base_url": None, "ollama_api_key": None}
    return get_settings(**{**base, **values})


def _base_url(model) -> str:
    return str(model.wrapped.client.base_url).rstrip("/")


def test_sandbox_google_and_openai_as_before():
    assert isinstance(build_model(settings(llm_model="sandbox")), FunctionModel)
    google = build_model(settings(llm_model="google:gemini-2.5-flash", google_api_key="g-key"))
    assert isinstance(google, GoogleModel) and google.model_name == "gemini-2.5-flash"
    openai = build_model(settings(llm_model="openai:gpt-4.1-mini", openai_api_key="o-key"))
    assert isinstance(openai, OpenAIResponsesModel) and openai.model_name == "gpt-4.1-mini"
    chat = build_model(settings(llm_model="openai-chat:gpt-4.1-mini", openai_api_key="o-key"))
    assert type(chat) is OpenAIChatModel and "api.openai.com" in str(chat.client.base_url)
    # No key in Settings: Pydantic AI's own provider reads its environment (anthropic:, groq: ... too).
    assert build_model(settings(llm_model="google:gemini-2.5-flash")) == "google:gemini-2.5-flash"
    assert build_model(settings(llm_model="anthropic:claude-sonnet-4-5")) == "anthropic:claude-sonnet-4-5"


@pytest.mark.parametrize("prefix", ["openai", "openai-chat"])
def test_openai_base_url_means_chat_completions_there_key_optional(prefix):
    model = build_model(settings(llm_model=f"{prefix}:qwen2.5-coder-0.5b", openai_base_url="http://127.0.0.1:3300/v1/"))
    assert isinstance(model, EndpointModel) and type(model.wrapped) is OpenAIChatModel
    assert model.model_name == "qwen2.5-coder-0.5b" and _base_url(model) == "http://127.0.0.1:3300/v1"
    keyed = build_model(settings(llm_model="openai:m", openai_base_url="http://vllm:8000/v1", openai_api_key="k-1",
                                 llm_timeout_seconds=1200))
    assert keyed.wrapped.client.api_key == "k-1" and keyed.settings["timeout"] == 1200


def test_ollama_prefix_with_its_default_and_its_base_url():
    model = build_model(settings(llm_model="ollama:qwen2.5-coder:1.5b"))
    assert isinstance(model.wrapped, OllamaModel) and model.model_name == "qwen2.5-coder:1.5b"
    assert _base_url(model) == "http://localhost:11434/v1"
    other = build_model(settings(llm_model="ollama:llama3.2", ollama_base_url="http://gpu-box:11434/v1",
                                 ollama_api_key="ol-key"))
    assert _base_url(other) == "http://gpu-box:11434/v1" and other.wrapped.client.api_key == "ol-key"
    assert endpoint_of(settings(llm_model="openai:gpt-4.1-mini")) is None  # OpenAI itself: no endpoint to probe


def test_endpoint_settings_are_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTIC_ENV_FILE", str(tmp_path / "absent.env"))
    assert settings(openai_base_url="").openai_base_url is None  # `OPENAI_BASE_URL=` copied from the example
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:3300/v1")
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL: must be an http:// or https:// URL"):
        load_settings()


# --- a self-hosted endpoint ---------------------------------------------------------------------------------


class Endpoint:
    """An OpenAI-compatible endpoint in this process; `mode` picks the chat-completions answer."""

    ANSWERS = {
        # llama.cpp started without --jinja
        "llamacpp-no-jinja": (500, {"error": {"code": 500, "message": "tools param requires --jinja flag",
                                              "type": "server_error"}}),
        # Ollama for a model without tool support
        "ollama-no-tools": (400, {"error": {"message": "registry.ollama.ai/library/gemma:2b does not support tools",
                                            "type": "api_error", "param": None, "code": None}}),
        "text": (200, {"id": "c-1", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": "It is a bug in add()."}}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
        # llama.cpp's answer when the conversation no longer fits n_ctx (its body, verbatim)
        "context-full": (400, {"error": {"code": 400, "message": "request (10306 tokens) exceeds the available "
                                         "context size (8192 tokens), try increasing it",
                                         "type": "exceed_context_size_error", "n_prompt_tokens": 10306,
                                         "n_ctx": 8192}}),
        # llama.cpp does not enforce tool_choice=required for Qwen2.5-Coder: prose until the answer cap, then,
        # told to use a tool, the structured answer (measured on the local server)
        "prose-to-the-cap": [
            (200, {"id": "c-1", "object": "chat.completion", "created": 1, "model": "m",
                   "choices": [{"index": 0, "finish_reason": "length",
                                "message": {"role": "assistant", "content": "### Reasons\n- The issue asks"}}],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 1024, "total_tokens": 1034}}),
            (200, {"id": "c-2", "object": "chat.completion", "created": 1, "model": "m",
                   "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                       "role": "assistant", "content": None, "tool_calls": [{
                           "id": "call-1", "type": "function", "function": {"name": "final_result", "arguments": (
                               '{"reasons": ["slugify keeps a trailing dash"], "decision": "needs_info", '
                               '"questions": ["Which input?"], "brief": null}')}}]}}],
                   "usage": {"prompt_tokens": 40, "completion_tokens": 30, "total_tokens": 70}}),
        ],
    }

    URL = "http://127.0.0.1:3300/v1"  # never reached over the network: the transport below answers

    def __init__(self, mode: str) -> None:
        self.mode, self.url, self.requests = mode, self.URL, []
        self.transport = httpx.MockTransport(lambda request: self._answer(request, httpx))  # for model_problem

    def http_client(self) -> httpx2.AsyncClient:
        """For the model: the OpenAI SDK speaks httpx2."""
        return httpx2.AsyncClient(transport=httpx2.MockTransport(lambda request: self._answer(request, httpx2)))

    def _answer(self, request, http):
        if request.method == "GET":
            return http.Response(200, json={"object": "list", "data": [{"id": "m", "object": "model"}]})
        self.requests.append(json.loads(request.content))
        answer = self.ANSWERS[self.mode]
        status, body = answer[min(len(self.requests), len(answer)) - 1] if isinstance(answer, list) else answer
        return http.Response(status, json=body)


@pytest.fixture
def endpoint(request):
    return Endpoint(request.param)


def _agent(base_url: str, name: str = "openai-chat:m", http_client: httpx2.AsyncClient | None = None) -> Agent:
    model = build_model(settings(llm_model=name, openai_base_url=base_url, ollama_base_url=base_url),
                        http_client=http_client)
    return Agent(model, output_type=Triage, instructions="Triage the issue.")


def test_endpoint_down_is_one_line_naming_it_and_the_next_step():
    url = f"http://127.0.0.1:{free_port()}/v1"
    problem = model_problem(settings(llm_model="openai-chat:m", openai_base_url=url))
    assert problem == (f"model endpoint {url} is not reachable (ConnectError); start it (`ibt stacks run llm` or "
                       "your server) or set OPENAI_BASE_URL")
    assert "`ollama serve`" in model_problem(settings(llm_model="ollama:m", ollama_base_url=url))
    assert model_problem(settings(llm_model="sandbox")) is None
    with pytest.raises(ModelUnavailable, match="not reachable"):
        check_endpoint(settings(llm_model="openai:m", openai_base_url=url))


async def test_a_run_against_a_down_endpoint_raises_model_unavailable():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelUnavailable, match=rf"model endpoint {url} is not reachable"):
        await _agent(url).run("issue")


@pytest.mark.parametrize("endpoint", ["text"], indirect=True)
async def test_an_endpoint_that_answers_is_fine_for_the_preflight(endpoint):
    assert model_problem(settings(llm_model="openai-chat:m", openai_base_url=endpoint.url),
                         transport=endpoint.transport) is None


@pytest.mark.parametrize("endpoint,name", [("llamacpp-no-jinja", "openai-chat:m"), ("ollama-no-tools", "ollama:m")],
                         indirect=["endpoint"])
async def test_a_model_without_tool_calls_is_one_line_saying_so(endpoint, name):
    with pytest.raises(ModelUnsupported) as caught:
        await _agent(endpoint.url, name, endpoint.http_client()).run("issue")
    message = str(caught.value)
    assert message.startswith(f"model 'm' at {endpoint.url} cannot do tool calls or structured output")
    assert "\n" not in message and ("--jinja" in message and "does not support tools" in message
                                    if "ollama" in name else "--jinja flag" in message)
    assert endpoint.requests[0]["tools"]  # the structured output was asked for as a tool


@pytest.mark.parametrize("endpoint", ["text"], indirect=True)
async def test_a_model_that_answers_in_text_twice_is_unsupported(endpoint):
    with pytest.raises(ModelUnsupported, match="answered in plain text twice where a tool call was required"):
        await _agent(endpoint.url, http_client=endpoint.http_client()).run("issue")
    assert len(endpoint.requests) == 2  # told once to use the tool, then given up: no retry loop


@pytest.mark.parametrize("endpoint", ["prose-to-the-cap"], indirect=True)
async def test_prose_cut_off_by_the_answer_cap_gets_the_tool_call_retry_not_a_failure(endpoint):
    result = await _agent(endpoint.url, http_client=endpoint.http_client()).run("issue")
    assert result.output.decision == "needs_info" and len(endpoint.requests) == 2
    assert endpoint.requests[0]["tool_choice"] == "required"  # asked for, not enforced by the server
    retry = endpoint.requests[1]["messages"][-1]  # Pydantic AI's feedback on the prose, as for prose that ended
    assert retry["role"] == "user" and "failed the application's validation" in retry["content"]


@pytest.mark.parametrize("endpoint", ["context-full"], indirect=True)
async def test_a_full_context_window_is_one_line_with_the_fixes(endpoint):
    with pytest.raises(ModelBudgetExceeded) as caught:
        await _agent(endpoint.url, http_client=endpoint.http_client()).run("issue")
    message = str(caught.value)
    assert message.startswith(f"the triage outgrew the context window of 'm' at {endpoint.url}")
    assert "--ctx" in message and "LLM_TOOL_RESULT_CHARS" in message and "\n" not in message
    assert len(endpoint.requests) == 1  # rejected as it is: never sent again


def test_the_cli_exits_1_with_one_line_when_the_endpoint_is_down(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "OPENAI_", "OLLAMA_"))}
    env.update({"AGENTIC_ENV_FILE": str(tmp_path / "absent.env"), "LLM_MODEL": "openai-chat:qwen2.5-coder-0.5b",
                "OPENAI_BASE_URL": url, "COLUMNS": "300",
                # nothing listens there either: the model endpoint is checked first
                "MCP_SERVER_URL": f"http://127.0.0.1:{free_port()}"})
    proc = subprocess.run([sys.executable, "-m", "agentic.cli", "run", "https://github.com/acme/widgets/issues/1"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"error: model endpoint {url} is not reachable (ConnectError); start it (`ibt stacks run llm` "
                     "or your server) or set OPENAI_BASE_URL"], proc.stderr
