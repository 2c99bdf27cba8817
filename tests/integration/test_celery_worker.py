import os

import pytest
from celery import Celery

pytestmark = pytest.mark.integration


def test_a_real_worker_on_redis_executes_a_task(celery_worker_process):
    sender = Celery(
        broker=celery_worker_process["broker"],
        backend=celery_worker_process["broker"],
        set_as_current=False,
    )
    result = sender.send_task("marketplace.ping", queue=celery_worker_process["queue"])
    answer = result.get(timeout=30)
    assert answer["pong"] is True
    assert answer["pid"] == celery_worker_process["process"].pid != os.getpid()
    assert "marketplace.ping" in celery_worker_process["log"].read_text()
