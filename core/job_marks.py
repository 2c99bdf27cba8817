"""A job's own marks on the row it works for, so a lost job is told from a waiting one.

A periodic sync that re-sends "stale" jobs by the age of the request re-sends every job
that merely waits behind a long queue (a burst of purchases), and each duplicate makes the
queue longer still. Instead every run of the job marks its row: when a delivery reached
the broker, when a worker started it (cleared once it returned) and how many times it ran.
Only a job that never reached the broker, or whose worker died while running it, is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from celery import Task, states
from celery.signals import after_task_publish
from django.db import models
from django.db.models import F
from django.utils import timezone


class JobMarks(models.Model):
    """The marks of the one job that works for this row (an install, an apply)."""

    job_sent_at = models.DateTimeField(null=True, blank=True)
    job_started_at = models.DateTimeField(null=True, blank=True)
    job_runs = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


def record_sent(model: type[JobMarks], *, pk: int, now: datetime) -> None:
    """A delivery reached the broker and waits in the queue (unless a worker already runs
    the job: then that run's return says what follows)."""
    model._default_manager.filter(pk=pk, job_started_at__isnull=True).update(job_sent_at=now)


def record_started(model: type[JobMarks], *, pk: int, now: datetime) -> None:
    model._default_manager.filter(pk=pk).update(
        job_started_at=now, job_sent_at=None, job_runs=F("job_runs") + 1
    )


def record_returned(model: type[JobMarks], *, pk: int, now: datetime, retrying: bool) -> None:
    # A retry was sent again before the run returns: that delivery now waits.
    model._default_manager.filter(pk=pk).update(
        job_started_at=None, job_sent_at=now if retrying else None
    )


def forget_lost(model: type[JobMarks], *, pk: int) -> None:
    """Before a lost job is sent again: its marks are of a run that will never return."""
    model._default_manager.filter(pk=pk).update(job_started_at=None, job_sent_at=None)


def job_lost(row: JobMarks, *, now: datetime, after: timedelta, since: datetime) -> bool:
    """Whether the job is lost: a worker started it and it neither finished nor returned
    within `after` (the worker was killed), or nothing of it is outstanding `after` past
    `since` (it never reached the broker). A job sent and waiting in the queue is not
    lost, however long the queue."""
    if row.job_started_at is not None:
        return now - row.job_started_at > after
    if row.job_sent_at is not None:
        return False
    return now - since > after


class MarkedJobTask(Task):
    """A task whose first argument is the pk of a `marked_model` row: each run marks it."""

    marked_model: type[JobMarks]

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        if args:
            record_started(self.marked_model, pk=args[0], now=timezone.now())

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        if args:
            record_returned(
                self.marked_model, pk=args[0], now=timezone.now(), retrying=status == states.RETRY
            )


def mark_sent_on_publish(task_name: str, model: type[JobMarks]) -> None:
    """From the moment the broker has a delivery of `task_name`, its row says it waits."""

    def sent(sender: str | None = None, body: Any = None, **kwargs: Any) -> None:
        args = body[0] if isinstance(body, list | tuple) and body else None
        if args:
            record_sent(model, pk=int(args[0]), now=timezone.now())

    after_task_publish.connect(sent, sender=task_name, weak=False)
