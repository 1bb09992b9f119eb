"""The stack: PostgreSQL, Prefect server, MCP hub and sandbox, run natively or with Docker Compose."""
