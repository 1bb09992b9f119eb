"""The local model service: llama.cpp's OpenAI-compatible server (xllamacpp's prebuilt wheel) in this process.

`serve` makes sure the pinned weights are cached and verified (weights.py), reads the model's chat template and
applies the tool-call fix (template.py), then starts llama.cpp's own HTTP server — `/v1/chat/completions` with tool
calls and `response_format` json_schema, `/v1/models`, `/health` (503 while loading, 200 once ready) — and waits for
SIGTERM/SIGINT. Sampling is greedy (temperature 0) so a run is repeatable; generation is capped so a confused small
model cannot talk for minutes.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from agentic.errors import StackError
from agentic.llm.template import fence_tool_calls, read_chat_template
from agentic.llm.weights import LocalModel, ensure_weights


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 3300
    n_ctx: int = 16384  # the triage prompt (~1.5k tokens) and four reads of LLM_TOOL_RESULT_CHARS each
    max_tokens: int = 2048  # room for every field of the brief at its schema bound (agent/brief.py)
    threads: int = 0  # 0: every core


def _params(model: LocalModel, path: Path, options: ServerOptions):
    try:
        import xllamacpp
    except ImportError:
        raise StackError("the local model service needs xllamacpp: `.venv/bin/pip install -r "
                         "agentic/requirements-llm.txt` (scripts/bootstrap.sh does it)") from None
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {model.alias}
    params.hostnames = [options.host]
    params.port = options.port
    params.n_ctx = options.n_ctx
    params.n_parallel = 1
    params.n_predict = options.max_tokens
    params.use_jinja = True  # tool calls and structured output go through the chat template
    template = read_chat_template(path)
    if template:
        params.chat_template = fence_tool_calls(template)
    threads = options.threads or os.cpu_count() or 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.sampling.temp = 0.0
    params.sampling.seed = 0
    return xllamacpp.Server, params


def serve(model: LocalModel, cache_dir: Path, options: ServerOptions) -> None:
    """Run the server until SIGTERM or SIGINT."""
    path = ensure_weights(model, cache_dir, log=lambda line: print(line, flush=True))
    server_class, params = _params(model, path, options)
    waiting = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, waiting)  # before llama.cpp's threads start, so they inherit the mask
    server = server_class(params)
    print(f"serving {model.name} on {server.listening_address}/v1 (LLM_MODEL=openai-chat:{model.alias}, "
          f"OPENAI_BASE_URL={server.listening_address}/v1)", flush=True)
    received = signal.sigwait(waiting)
    print(f"stopping on {signal.Signals(received).name}", flush=True)
    sys.stdout.flush()
    # llama.cpp's server threads do not stop on their own: leave without running their destructors.
    os._exit(0)
