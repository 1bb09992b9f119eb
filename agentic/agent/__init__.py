"""The one judgment step: a Pydantic AI agent that triages an issue and writes Jules' brief."""
