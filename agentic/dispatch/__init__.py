"""Dispatch: exactly one Jules session per issue text (`claims`) and the queue in front of Jules' quotas
(`session_queue`). Below the flow: nothing here imports agentic.workflows."""
