"""The chat template the local server uses: the model's own, read from its GGUF file, with the tool-call fix.

Qwen2.5-Coder writes tool calls in a ```json fence although its template asks for `<tool_call>` tags, so llama.cpp
would hand them back as text and Pydantic AI would never see a tool call (shared research §8). `fence_tool_calls`
makes the template ask for (and show past calls in) the fence the model writes; llama.cpp's parser reads those as
tool calls. Only GGUF's metadata header is read (`read_chat_template`), never the tensors.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from agentic.errors import StackError

TEMPLATE_KEY = "tokenizer.chat_template"
# The three places Qwen2.5's template names the tags (the instruction in the system prompt, and how a past call is
# rendered), each replaced by the fence.
FENCE_REPLACEMENTS = (
    ("within <tool_call></tool_call> XML tags:\\n<tool_call>\\n", "in a ```json fenced block:\\n```json\\n"),
    ("\\n</tool_call><|im_end|>", "\\n```<|im_end|>"),
    ("'\\n<tool_call>\\n{", "'\\n```json\\n{"),
    ("'}\\n</tool_call>'", "'}\\n```'"),
)

# GGUF value types (ggml's gguf.h): fixed-size scalars, then string (8) and array (9).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def _read(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise StackError("truncated GGUF header")
    return data


def _string(handle: BinaryIO) -> bytes:
    (length,) = struct.unpack("<Q", _read(handle, 8))
    return _read(handle, length)


def _skip(handle: BinaryIO, kind: int) -> None:
    if kind == _STRING:
        _string(handle)
    elif kind == _ARRAY:
        item_kind, count = struct.unpack("<IQ", _read(handle, 12))
        if item_kind in (_STRING, _ARRAY):
            for _ in range(count):
                _skip(handle, item_kind)
        else:
            handle.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
    elif kind in _SCALARS:
        _read(handle, struct.calcsize(_SCALARS[kind]))
    else:
        raise StackError(f"unknown GGUF value type {kind}")


def read_chat_template(path: Path) -> str | None:
    """The `tokenizer.chat_template` string of a GGUF file (versions 2 and 3), or None if it has none."""
    with Path(path).open("rb") as handle:
        if _read(handle, 4) != b"GGUF":
            raise StackError(f"{path} is not a GGUF file")
        (version,) = struct.unpack("<I", _read(handle, 4))
        if version not in (2, 3):
            raise StackError(f"{path}: GGUF version {version} is not supported")
        _tensors, entries = struct.unpack("<QQ", _read(handle, 16))
        for _ in range(entries):
            key = _string(handle).decode("utf-8", "replace")
            (kind,) = struct.unpack("<I", _read(handle, 4))
            if key == TEMPLATE_KEY and kind == _STRING:
                return _string(handle).decode("utf-8")
            _skip(handle, kind)
    return None


def fence_tool_calls(template: str) -> str:
    """The template with Qwen's `<tool_call>` tags replaced by a ```json fence; unchanged if it has none of them."""
    if "<tool_call>" not in template:
        return template
    for old, new in FENCE_REPLACEMENTS:
        template = template.replace(old, new)
    return template
