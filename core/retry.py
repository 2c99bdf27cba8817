"""The retry policy of every job that talks to a cluster or another network peer.

Jobs ack late (a killed worker's job is delivered again), retry what may pass with
exponential back-off and jitter, and give up after a bound; their `on_failure` then
records the reason on the object the job was about.
"""

from __future__ import annotations

from typing import Any


class TransientError(Exception):
    """A failure a later attempt may not meet: a 5xx, a 429, a timeout, a refused connection."""


CLUSTER_JOB_RETRY: dict[str, Any] = {
    "autoretry_for": (TransientError,),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
    "acks_late": True,
}
