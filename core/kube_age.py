"""AGE as kubectl prints it, so the product's pod tables read like `kubectl get pods`."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration: 90s, 5m3s, 3h20m, 2d4h, 1y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def age(created: str | datetime.datetime | None, *, now: datetime.datetime | None = None) -> str:
    """kubectl's `<unknown>` for a missing or unreadable creationTimestamp."""
    moment = parse_datetime(created) if isinstance(created, str) else created
    if moment is None:
        return "<unknown>"
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    return human_duration(((now or timezone.now()) - moment).total_seconds())
