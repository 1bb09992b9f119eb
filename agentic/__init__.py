"""GitHub issue -> Google Jules pull request: a Prefect flow, a Pydantic AI agent, tools through an MCP hub."""

__version__ = "0.1.0"
