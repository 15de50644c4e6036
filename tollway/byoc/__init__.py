"""BYOC containers: the job header, capability registry and the Docker runtime."""
