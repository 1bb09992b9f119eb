"""A real small model on this machine: llama.cpp's OpenAI-compatible server with pinned, checked weights.

    python -m agentic.llm serve [--model qwen2.5-coder-1.5b] [--host 127.0.0.1] [--port 3300]
    python -m agentic.llm fetch [--model ...]        # download and verify the weights only (CI's cache step)
    ibt stacks run llm                               # the same as a stack service (stacks/llm/)

Point the product at it with `LLM_MODEL=openai-chat:qwen2.5-coder-1.5b OPENAI_BASE_URL=http://127.0.0.1:3300/v1`.
"""
