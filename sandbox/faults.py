"""Fault injection: errors, latency, write conflicts and a down API server.

Set from tests (`sb.faults.error_rate = 1.0`) or over HTTP at `/_sandbox/faults`
so a demo or another process can make the cluster misbehave on purpose.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Faults:
    """Thread-safe fault settings consulted by every API request."""

    def __init__(self, *, on_down: Callable[[bool], None] | None = None):
        self._lock = threading.Lock()
        self._down_lock = threading.Lock()
        self._on_down = on_down
        self._down = False
        self.error_rate = 0.0
        self.latency = 0.0
        self._conflicts = 0

    @property
    def down(self) -> bool:
        return self._down

    @down.setter
    def down(self, value: bool) -> None:
        value = bool(value)
        with self._down_lock:  # the flag flips only once the socket really is closed/open
            if value != self._down and self._on_down:
                self._on_down(value)
            self._down = value

    def conflict_next_writes(self, count: int) -> None:
        """Answer the next `count` write requests with 409 Conflict."""
        with self._lock:
            self._conflicts = max(0, int(count))

    def reset(self) -> None:
        self.error_rate = 0.0
        self.latency = 0.0
        self.conflict_next_writes(0)
        self.down = False

    def take_conflict(self, method: str) -> bool:
        if method not in WRITE_METHODS:
            return False
        with self._lock:
            if self._conflicts > 0:
                self._conflicts -= 1
                return True
            return False

    def roll_error(self) -> bool:
        rate = self.error_rate
        return rate > 0 and (rate >= 1 or random.random() < rate)

    def as_dict(self) -> dict:
        return {
            "error_rate": self.error_rate,
            "latency": self.latency,
            "conflict_next_writes": self._conflicts,
            "down": self._down,
        }

    def update(self, values: dict) -> None:
        """Set from a JSON body; unknown keys are a ValueError (answered 400).

        `down` / `down_for` are left to the caller: over HTTP the listening socket may
        only close after the response has been sent.
        """
        allowed = {"error_rate", "latency", "conflict_next_writes", "down", "down_for", "reset"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        if values.get("reset"):
            self.reset()
        if "error_rate" in values:
            rate = float(values["error_rate"])
            if not 0 <= rate <= 1:
                raise ValueError("error_rate must be between 0 and 1")
            self.error_rate = rate
        if "latency" in values:
            latency = float(values["latency"])
            if latency < 0:
                raise ValueError("latency must be >= 0")
            self.latency = latency
        if "conflict_next_writes" in values:
            self.conflict_next_writes(int(values["conflict_next_writes"]))
        if "down_for" in values and float(values["down_for"]) <= 0:
            raise ValueError("down_for must be > 0 seconds")

    def go_down_for(self, seconds: float) -> None:
        """Refuse connections for a while, then come back (the only way back over HTTP)."""
        self.down = True
        timer = threading.Timer(seconds, setattr, args=(self, "down", False))
        timer.daemon = True
        timer.start()
