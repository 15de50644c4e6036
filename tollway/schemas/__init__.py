"""The JSON the gateway's API answers, as pydantic models and nothing more: one definition that
the API, the store, the workflows and `tollway.client` all use, so a client parses answers
without importing the server (FastAPI, SQLAlchemy, Temporal, web3)."""

__all__ = ["jobs", "webhooks"]
