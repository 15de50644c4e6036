"""Activities: one module per lifecycle step, each a class holding its clients, with its
input and output models; `job` holds the job's records (JobSpec, JobStatus) every step shares."""

__all__ = [
    "containers",
    "discovery",
    "dispatch",
    "heartbeat",
    "job",
    "payment",
    "redemption",
    "registration",
    "reward",
    "settlement",
]
