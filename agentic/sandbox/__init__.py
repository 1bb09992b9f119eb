"""Simulators the sandbox runs instead of the real services (production code: the demo, tests and benchmarks use them).

    github/    GitHub REST API simulator (`python -m agentic.sandbox.github`, port 3101)
    jules/     Jules v1alpha API simulator (`python -m agentic.sandbox.jules`, port 3102), driven by
               agentic/jules.schema.json; opens its pull requests on the GitHub simulator; `--profile live`
               (or JULES_SIM_PROFILE=live) shows the live API's behaviours beyond its docs
    model.py   deterministic LLM for the triage agent
"""
