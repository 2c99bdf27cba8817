"""core/v1 Events written by the simulated controllers, aggregated like client-go does."""

from __future__ import annotations

import contextlib
import time

from .errors import ApiError
from .resources import BUILTIN_TYPES
from .store import Store, now

EVENT_TYPE = next(t for t in BUILTIN_TYPES if t.kind == "Event")


def record(
    store: Store,
    obj: dict,
    *,
    reason: str,
    message: str,
    component: str,
    type_: str = "Normal",
    host: str | None = None,
) -> None:
    """Emit (or bump the count of) an Event about `obj`.

    Repeats with the same object, reason and message increase `count` and
    `lastTimestamp` instead of adding a new Event, as the event broadcaster does.
    """
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    with store.lock:
        events, _ = store.list(
            EVENT_TYPE, namespace, field_selector=f"involvedObject.uid={meta.get('uid', '')}"
        )
        for event in events:
            if event.get("reason") == reason and event.get("message") == message:
                event["count"] = event.get("count", 1) + 1
                event["lastTimestamp"] = now()
                store.save(EVENT_TYPE, event, manager=component)
                return
        stamp = now()
        source = {"component": component}
        if host:
            source["host"] = host
        with contextlib.suppress(ApiError):  # e.g. a terminating namespace: the event is lost
            store.create(
                EVENT_TYPE,
                namespace,
                {
                    "metadata": {"name": f"{meta['name']}.{time.time_ns():x}"[:253]},
                    "involvedObject": {
                        "apiVersion": obj.get("apiVersion", ""),
                        "kind": obj.get("kind", ""),
                        "name": meta["name"],
                        "namespace": meta.get("namespace", ""),
                        "uid": meta.get("uid", ""),
                        "resourceVersion": meta.get("resourceVersion", ""),
                    },
                    "reason": reason,
                    "message": message,
                    "type": type_,
                    "source": source,
                    "firstTimestamp": stamp,
                    "lastTimestamp": stamp,
                    "count": 1,
                    "eventTime": None,
                    "reportingComponent": component,
                    "reportingInstance": host or "",
                },
                manager=component,
            )
