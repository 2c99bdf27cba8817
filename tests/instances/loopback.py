"""Real memcached processes and routers on loopback addresses, for 验证访问 per pod.

A pod of the networked sandbox (and of a real cluster) has its own IP with memcached on
11211; any 127.x.y.z address is ours to bind on Linux, so each test gets a fresh
127.77.N.* block: .1 the router, .2, .3, … the memcached pods.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port

from .conftest import MEMCACHED

PORT = 11211


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _wait_listening(host: str, port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 10
    while not _listening(host, port):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"{what} did not start on {host}:{port}")
        time.sleep(0.05)


def free_block() -> str:
    """A 127.77.N prefix where nothing listens on .1-.9:11211 yet."""
    for _attempt in range(50):
        prefix = f"127.77.{random.randint(1, 254)}"
        if not any(_listening(f"{prefix}.{i}", PORT) for i in range(1, 10)):
            return prefix
    raise AssertionError("no free 127.77.N block")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def memcached_at(host: str) -> Iterator[str]:
    """Debian's memcached bound to host:11211, as a memcached pod serves on its podIP."""
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [MEMCACHED, "-l", host, "-p", str(PORT), "-U", "0", "-m", "16", *user],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(host, PORT, process, "memcached")
        yield f"{host}:{PORT}"
    finally:
        _stop(process)


@contextmanager
def nutcracker_at(host: str, servers: list[str], tmp_path: Path) -> Iterator[str]:
    """Debian's nutcracker (twemproxy) sharding by consistent hashing (ketama) over
    `servers`, listening on host:11211: a `sharded` router."""
    config = tmp_path / f"nutcracker-{host}.yml"
    config.write_text(
        "pool:\n"
        f"  listen: {host}:{PORT}\n"
        "  hash: fnv1a_64\n"
        "  distribution: ketama\n"
        "  timeout: 2000\n"
        "  servers:\n" + "".join(f"   - {s}:1\n" for s in servers)
    )
    process = subprocess.Popen(
        [
            "nutcracker",
            "-c",
            str(config),
            "-s",
            str(free_port()),
            "-a",
            "127.0.0.1",
            "-o",
            str(tmp_path / f"nutcracker-{host}.log"),
            "-p",
            str(tmp_path / f"nutcracker-{host}.pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(host, PORT, process, "nutcracker")
        yield f"{host}:{PORT}"
    finally:
        _stop(process)


class ReplicatingRouter:
    """A `replset` router (mcrouter's AllSyncRoute for set/delete, MissFailoverRoute for
    get) over the memcached text protocol: no Debian package replicates writes, so this
    test speaks the few commands 验证访问 sends. It forwards to real memcached servers."""

    def __init__(self, host: str, servers: list[str]) -> None:
        self.host = host
        self.servers = [(s.rsplit(":", 1)[0], int(s.rsplit(":", 1)[1])) for s in servers]
        self.listener = socket.create_server((host, PORT))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.closed = False

    def _ask(self, server: tuple[str, int], request: bytes, until: bytes) -> bytes:
        with socket.create_connection(server, timeout=2) as conn:
            conn.sendall(request)
            answer = b""
            while not answer.endswith(until) and not answer.endswith(b"NOT_FOUND\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
            return answer

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            while True:
                line = reader.readline()
                if not line:
                    return
                words = line.split()
                command = words[0] if words else b""
                line = line.replace(b" noreply", b"")  # the servers always answer us
                if command == b"set":
                    data = reader.read(int(words[4]) + 2)
                    answers = [self._ask(s, line + data, b"\r\n") for s in self.servers]
                    ok = all(a == b"STORED\r\n" for a in answers)
                    if b"noreply" not in words:
                        conn.sendall(b"STORED\r\n" if ok else b"NOT_STORED\r\n")
                elif command == b"get":
                    answer = b"END\r\n"
                    for server in self.servers:
                        answer = self._ask(server, line, b"END\r\n")
                        if answer != b"END\r\n":
                            break
                    conn.sendall(answer)
                elif command == b"delete":
                    answers = [self._ask(s, line, b"\r\n") for s in self.servers]
                    if b"noreply" not in words:
                        deleted = any(a == b"DELETED\r\n" for a in answers)
                        conn.sendall(b"DELETED\r\n" if deleted else b"NOT_FOUND\r\n")
                elif command == b"quit":
                    return
                else:
                    conn.sendall(b"ERROR\r\n")

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def __enter__(self) -> str:
        self.thread.start()
        return f"{self.host}:{PORT}"

    def __exit__(self, *exc: object) -> None:
        self.closed = True
        self.listener.close()
