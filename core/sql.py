"""Raw SQL on Django's connection, for the few hot statements that earn it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper


@cache
def _prepared_cursor_class() -> type:
    import psycopg

    class PreparedCursor(psycopg.Cursor[Any]):
        """Binds on the server and prepares every statement it runs."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(query, params, prepare=True)

    return PreparedCursor


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL parses and plans once per connection.

    Django's cursors bind parameters on the client, so the server parses and plans every
    statement anew: for a long statement run again and again (a payment's) that costs
    more than running it. This cursor binds on the server and prepares each statement
    the first time the connection runs it (psycopg keeps them per connection and
    re-prepares after a reconnect). It is wrapped in Django's cursor wrapper, so execute
    wrappers (query counts, debug logs) still see every statement. PostgreSQL (psycopg 3)
    only; parameters as `%(name)s`, each of one type wherever it is used.
    """
    connection.ensure_connection()
    raw = _prepared_cursor_class()(connection.connection)
    try:
        yield CursorWrapper(raw, connection)
    finally:
        raw.close()
