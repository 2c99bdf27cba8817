"""Running actions at the same moment, each in its own thread and database connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.utils import translation


def run_together(actions: dict[str, Callable[[], Any]], *, timeout: float = 30) -> dict[str, Any]:
    """Starts every action at once (a barrier) and returns name → its result, or the
    exception it raised; each thread closes its own connection."""
    barrier = threading.Barrier(len(actions))
    results: dict[str, Any] = {}

    def run(name: str, action: Callable[[], Any]) -> None:
        try:
            with translation.override("en"):
                barrier.wait(timeout=10)
                results[name] = action()
        except Exception as exc:
            results[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in actions.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
