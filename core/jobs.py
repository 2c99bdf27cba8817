"""Enqueue-on-commit: a job leaves only once the transaction that asked for it commits.

A rollback therefore never starts work, and the job always finds the rows it is about.
Callers pass the task object itself, so readers and tools can follow the call.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import Task
from django.db import transaction


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(partial(task.apply_async, args=args, kwargs=kwargs or None))
