"""FastAPI apps: the gateway's client API and the orchestrator's Livepeer-compatible API."""
