"""The orchestrator's HTTP API: Livepeer BYOC endpoints plus a small admin surface."""
