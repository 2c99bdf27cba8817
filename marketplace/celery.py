"""The Celery application shared by the worker, beat and the web process."""

import os

from celery import Celery
from celery.signals import beat_init, before_task_publish, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids carried into jobs, the job's log context, job metrics, the worker's port.
from . import observability  # noqa: E402, F401

_broker_folders_ready = False


def ensure_broker_folders():
    """The filesystem transport needs its folders before the first message."""
    global _broker_folders_ready
    if _broker_folders_ready:
        return
    from django.conf import settings

    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if folder:
            os.makedirs(folder, exist_ok=True)
    _broker_folders_ready = True


@worker_init.connect
@beat_init.connect
@before_task_publish.connect
def _prepare_broker(**_kwargs):
    ensure_broker_folders()


@app.task(name="marketplace.ping")
def ping():
    """Proves a worker is consuming: returns who ran it."""
    import socket

    return {"pong": True, "pid": os.getpid(), "host": socket.gethostname()}
