"""Reading a cluster's Events (core/v1) into a timeline (see models.TimelineEvent).

Pure: the caller lists the Events and writes the rows. Each Event is imported once, by its
uid; a repeated Event (its `count` growing) is not imported again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import EventSource


def occurred_at(event: dict[str, Any]) -> datetime:
    """When it last happened. Events written through events.k8s.io/v1 leave `lastTimestamp`
    empty and carry `eventTime` (and `series.lastObservedTime` once repeated)."""
    when = (
        event.get("lastTimestamp")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )
    return (parse_datetime(when) if isinstance(when, str) else None) or timezone.now()


def event_namespace(involved: dict[str, Any]) -> str:
    """The namespace an Event is about. OLM reports a namespace's resolution failures on
    the Namespace object itself (cluster-scoped: its name is the namespace)."""
    if involved.get("kind") == "Namespace":
        return str(involved.get("name") or "")
    return str(involved.get("namespace") or "")


def timeline_rows(
    events: Iterable[dict[str, Any]],
    *,
    namespace: str,
    about: Callable[[dict[str, Any]], bool],
    known_uids: set[str],
) -> list[dict[str, Any]]:
    """The field values of the timeline rows for the Events in `namespace` whose
    involvedObject `about` accepts and whose uid is not in `known_uids` (which grows)."""
    rows = []
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        uid = (event.get("metadata") or {}).get("uid", "")
        if event_namespace(involved) != namespace or uid in known_uids or not about(involved):
            continue
        known_uids.add(uid)
        rows.append(
            {
                "source": EventSource.CLUSTER,
                "type": event.get("type") or "Normal",
                "reason": (event.get("reason") or "")[:100],
                "message": event.get("message") or event.get("note") or "",
                "involved_object": f"{involved.get('kind')}/{involved.get('name')}"[:300],
                "cluster_uid": uid,
                "occurred_at": occurred_at(event),
            }
        )
    return rows
