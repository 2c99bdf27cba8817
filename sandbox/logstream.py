"""`pods/log?follow=true` (`kubectl logs -f`): stream new log lines as they appear.

Generic over where the text comes from: a *source* is any callable
`(pod, container) -> str` giving the container's whole log so far (no tail, no since).
The sandbox's default is the synthetic log of `logs.pod_log`; a source that reads a real
process's output works the same. The stream starts with what the non-follow request would
answer (tailLines, sinceSeconds, timestamps, limitBytes honoured), then sends every line
appended after that, until the container terminates, the pod is deleted (or replaced: a new
uid), the client disconnects, `limitBytes` is reached or the sandbox stops - as the kubelet
does.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

LogSource = Callable[[dict, str], str]

POLL_SECONDS = 0.25


def render(text: str, *, tail_lines: int | None, limit_bytes: int | None) -> str:
    """A source's whole log cut as `tailLines` and `limitBytes` ask."""
    lines = text.splitlines(keepends=True)
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    body = "".join(lines)
    if limit_bytes is not None:
        body = body.encode()[:limit_bytes].decode(errors="ignore")
    return body


def _container_done(pod: dict, container: str) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    for cs in status.get("containerStatuses") or []:
        if cs.get("name") == container:
            return "terminated" in (cs.get("state") or {})
    return False


def _stamp(line: str) -> str:
    now = datetime.datetime.now(datetime.UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S.%f}000Z {line}"


def follow(
    handler: BaseHTTPRequestHandler,
    *,
    initial: str,
    source: LogSource,
    current_pod: Callable[[], dict | None],
    container: str,
    timestamps: bool,
    limit_bytes: int | None,
    stopping: Callable[[], bool],
) -> None:
    """Write a chunked text/plain response: `initial`, then the lines `source` adds."""
    pod = current_pod()
    if pod is None:
        return
    uid = pod["metadata"].get("uid")
    sent_lines = len(source(pod, container).splitlines(keepends=True))
    budget = limit_bytes
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.end_headers()

    def write(text: str) -> bool:
        """Send text (cut to what limitBytes leaves); False once the limit is used up."""
        nonlocal budget
        data = text.encode()
        if budget is not None:
            data = data[:budget]
            budget -= len(data)
        if data:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
        return budget is None or budget > 0

    try:
        more = write(initial)
        while more and not stopping():
            pod = current_pod()
            gone = pod is None or pod["metadata"].get("uid") != uid
            if not gone:
                assert pod is not None
                lines = source(pod, container).splitlines(keepends=True)
                fresh, sent_lines = lines[sent_lines:], max(sent_lines, len(lines))
                for line in fresh:
                    if not (more := write(_stamp(line) if timestamps else line)):
                        break
            if gone or _container_done(pod or {}, container):
                break
            time.sleep(POLL_SECONDS)
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError, OSError):
        handler.close_connection = True
