"""What really runs in the sandbox: memcached and router processes, and a kube-proxy.

Each sandbox owns 127.N.0.0/16 (see addresses.py), claimed by binding a "kubelet" socket
on every node's InternalIP:10250. A Running pod whose image is memcached runs Debian's
`memcached` on <podIP>:<containerPort>; an mcrouter pod runs a router on <podIP>:11211 from
the config the operator wrote: `sharded` (PoolRoute) is Debian's `nutcracker` (twemproxy,
ketama), `replset` (AllSyncRoute for writes, MissFailoverRoute for reads) is the small proxy
below, since no package replicates. Services get a kube-proxy: ClusterIP, node ports and
LoadBalancer ingress IPs listen and forward TCP to the ready endpoints, round-robin.

Processes die with the sandbox: their own process group, SIGTERM/SIGKILL on stop, and
PR_SET_PDEATHSIG so even a SIGKILLed sandbox leaves none behind.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import ctypes
import datetime
import errno
import functools
import itertools
import json
import logging
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from . import events
from .addresses import BASES, KUBELET_PORT, NODE_COUNT, AddressPlan
from .controllers import CONFIGMAP, NODE, POD, SERVICE
from .store import Store, now

logger = logging.getLogger(__name__)

DEFAULT_MAX_PROCESSES = 40
DEFAULT_MEMCACHED_MAX_MB = 128
LOG_LINES = 5000
ROUTER_PORT = 11211
CREATE_ERROR = "CreateContainerError"
BACKOFF = "CrashLoopBackOff"
PR_SET_PDEATHSIG = 1


def claim_base(preferred: int | None) -> tuple[int, list[socket.socket]]:
    """Pick N for 127.N.0.0/16 and hold it: a listening kubelet socket on each node's IP.

    A bind that fails means another sandbox (or anything else) owns N: try another.
    """
    candidates = list(BASES)
    random.shuffle(candidates)
    if preferred is not None:
        candidates.insert(0, preferred)
    for base in candidates[:60]:
        plan = AddressPlan(base)
        held: list[socket.socket] = []
        try:
            for i in range(1, NODE_COUNT + 1):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(sock)
                sock.bind((plan.node_ip(i), KUBELET_PORT))
                sock.listen(8)
        except OSError as exc:
            for sock in held:
                sock.close()
            if exc.errno == errno.EADDRNOTAVAIL:  # not Linux: only 127.0.0.1 is on lo
                logger.warning(
                    "sandbox: 127.%s.0.0/16 is not routed to lo here; nothing runs for real",
                    base,
                )
                return base, []
            continue
        return base, held
    raise RuntimeError("no free 127.N.0.0/16 network for the sandbox (60 tried)")


def _quantity_mb(value) -> int | None:
    """A memory quantity ("512Mi", "1G", "67108864") in MB, None if absent or unreadable."""
    if value is None:
        return None
    m = re.match(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$", str(value))
    if not m:
        return None
    factor = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "k": 10**3,
        "K": 10**3,
        "M": 10**6,
        "G": 10**9,
        "T": 10**12,
    }.get(m[2] or "", 1)
    return max(1, int(float(m[1]) * factor) // 2**20)


def _image_repository(image: str) -> str:
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name


def container_kind(container: dict) -> str | None:
    """`memcached` or `mcrouter` for images the sandbox runs for real, else None."""
    repo = _image_repository(container.get("image", ""))
    for kind in ("memcached", "mcrouter"):
        if repo == kind or repo.endswith("/" + kind):
            return kind
    return None


def _container_port(container: dict, default: int) -> int:
    for port in container.get("ports") or []:
        if port.get("protocol", "TCP") == "TCP" and port.get("containerPort"):
            return int(port["containerPort"])
    return default


def _stamp(ts: datetime.datetime | None = None) -> str:
    return (ts or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- processes ----------------------------------------------------------------------------------


def _die_with_parent(parent: int):
    """preexec_fn: SIGKILL when the sandbox dies (even by SIGKILL), never outlive it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - not Linux
        libc = None

    def preexec() -> None:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the sandbox died before prctl took effect
            os._exit(1)

    return preexec


class _Spawner:
    """Starts processes from one long-lived thread: PR_SET_PDEATHSIG fires when the *thread*
    that forked exits, so children of short-lived request threads would die with them."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-spawner", daemon=True)
        self._thread.start()

    def spawn(self, argv: list[str], user: str | None = None) -> subprocess.Popen:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((argv, user, future))
        return future.result(timeout=10)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        parent = os.getpid()
        while (item := self._queue.get()) is not None:
            argv, user, future = item
            try:
                proc = subprocess.Popen(
                    argv,
                    user=user,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    process_group=0,
                    preexec_fn=_die_with_parent(parent),
                    close_fds=True,
                )
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(proc)


@dataclass
class Running:
    """One container the sandbox runs for real (a process or an in-process router)."""

    uid: str
    namespace: str
    pod: str
    container: str
    kind: str  # memcached | nutcracker | replset
    ip: str
    port: int
    proc: subprocess.Popen | None = None
    router: ReplsetRouter | None = None
    config: tuple = ()
    ready: bool = False
    started: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    log: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))

    def write(self, line: str) -> None:
        self.log.append((datetime.datetime.now(datetime.UTC), line))


def _read_output(proc: subprocess.Popen, record: Running) -> None:
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        record.write(raw.decode(errors="replace").rstrip("\r\n"))
    proc.stdout.close()


def _terminate(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _listening(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((ip, port)) == 0


# -- the asyncio side: kube-proxy listeners and the replset router ------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.close()


class _Listener:
    def __init__(self, label: str, endpoints: list[tuple[str, int]]):
        self.label = label
        self.endpoints = endpoints
        self.turn = itertools.count()
        self.server: asyncio.base_events.Server | None = None


class KubeProxy:
    """Service listeners (ClusterIP, NodePort, LoadBalancer) forwarding TCP round-robin."""

    def __init__(self) -> None:
        self.listeners: dict[tuple[str, int], _Listener] = {}
        self._failed: set[tuple[str, int]] = set()

    async def apply(self, desired: dict[tuple[str, int], tuple[str, list]]) -> None:
        for address in list(self.listeners):
            if address not in desired:
                listener = self.listeners.pop(address)
                if listener.server is not None:
                    listener.server.close()
        for address, (label, endpoints) in desired.items():
            known = self.listeners.get(address)
            if known is not None:
                known.endpoints = endpoints
                continue
            listener = _Listener(label, endpoints)
            try:
                listener.server = await asyncio.start_server(
                    functools.partial(self._forward, listener),
                    address[0],
                    address[1],
                    reuse_address=True,
                )
            except OSError as exc:
                if address not in self._failed:
                    logger.warning(
                        "kube-proxy: cannot listen on %s:%s for %s: %s", *address, label, exc
                    )
                    self._failed.add(address)
                continue
            self._failed.discard(address)
            self.listeners[address] = listener

    async def close(self) -> None:
        await self.apply({})

    async def _forward(self, listener: _Listener, reader, writer) -> None:
        endpoints = list(listener.endpoints)
        start = next(listener.turn)
        backend = None
        for k in range(len(endpoints)):
            host, port = endpoints[(start + k) % len(endpoints)]
            try:
                backend = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
                break
            except (OSError, TimeoutError):
                continue
        if backend is None:
            writer.close()
            return
        b_reader, b_writer = backend
        try:
            await asyncio.gather(_pipe(reader, b_writer), _pipe(b_reader, writer))
        except asyncio.CancelledError:
            pass  # the sandbox stops: the connection goes with it
        finally:
            b_writer.close()
            writer.close()


_STORAGE = {b"set", b"add", b"replace", b"append", b"prepend", b"cas"}
_KEYED = {b"delete", b"incr", b"decr", b"touch"}
_GETS = {b"get", b"gets"}
_ERRORS = (b"ERROR", b"SERVER_ERROR", b"CLIENT_ERROR")
_MISSES = (b"NOT_STORED", b"NOT_FOUND", b"EXISTS")


def _severity(reply: bytes) -> int:
    """mcrouter's AllSyncRoute answers the worst reply: errors > misses > success."""
    if reply.startswith(_ERRORS):
        return 2
    if reply.startswith(_MISSES):
        return 1
    return 0


class _Backend:
    def __init__(self, name: str, address: tuple[str, int]):
        self.name = name
        self.address = address
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(*self.address), 2
            )

    def drop(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def line_request(self, request: bytes) -> bytes:
        """Send a request answered by one line (storage, delete, incr, touch)."""
        try:
            await self.connect()
            assert self.reader is not None and self.writer is not None
            self.writer.write(request)
            await self.writer.drain()
            reply = await asyncio.wait_for(self.reader.readline(), 5)
            if not reply:
                raise ConnectionError("connection closed")
            return reply
        except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
            self.drop()
            return f"SERVER_ERROR {self.name}: {exc or type(exc).__name__}\r\n".encode()

    async def get(self, command: bytes, key: bytes) -> bytes | None:
        """One key's VALUE block (with its data), b"" on a miss, None on an error."""
        try:
            await self.connect()
            assert self.reader is not None and self.writer is not None
            self.writer.write(command + b" " + key + b"\r\n")
            await self.writer.drain()
            found = b""
            while True:
                line = await asyncio.wait_for(self.reader.readline(), 5)
                if not line:
                    raise ConnectionError("connection closed")
                if line.startswith(b"END"):
                    return found
                if line.startswith(b"VALUE "):
                    size = int(line.split()[3])
                    data = await self.reader.readexactly(size + 2)
                    found += line + data
                else:
                    return None
        except (OSError, TimeoutError, ConnectionError, ValueError, IndexError):
            self.drop()
            return None
        except asyncio.IncompleteReadError:
            self.drop()
            return None


class ReplsetRouter:
    """The operator's replset route for real: writes to every server (AllSyncRoute: waits for
    all, answers the worst reply), reads from the first server that hits (MissFailoverRoute)."""

    def __init__(
        self, record: Running, servers: list[tuple[str, tuple[str, int]]], *, unresolved: str
    ):
        self.record = record
        self.unresolved = unresolved  # where servers DNS does not resolve yet point
        self.servers = servers
        self.server: asyncio.base_events.Server | None = None
        self.started = time.time()
        self.clients = 0
        self.counts: collections.Counter = collections.Counter()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._serve, self.record.ip, self.record.port, reuse_address=True
        )
        self.record.write(
            f"sandbox replset router (AllSyncRoute for writes, MissFailoverRoute for reads) "
            f"listening on {self.record.ip}:{self.record.port}"
        )
        self._log_servers()

    def reconfigure(self, servers: list[tuple[str, tuple[str, int]]]) -> None:
        self.servers = servers
        self._log_servers()

    def _log_servers(self) -> None:
        listed = ", ".join(
            f"{name}={ip}:{port}" if ip != self.unresolved else f"{name}=(no address yet)"
            for name, (ip, port) in self.servers
        )
        self.record.write(f"pool A: {len(self.servers)} servers: {listed}")

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients += 1
        backends: dict[tuple[str, int], _Backend] = {}

        def pool() -> list[_Backend]:
            current = []
            for name, address in self.servers:
                backend = backends.get(address)
                if backend is None:
                    backend = backends[address] = _Backend(name, address)
                current.append(backend)
            return current

        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply = await self._command(line, reader, pool())
                if reply is None:
                    break
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self.clients -= 1
            for backend in backends.values():
                backend.drop()
            writer.close()

    async def _command(self, line: bytes, reader, servers: list[_Backend]) -> bytes | None:
        parts = line.split()
        if not parts:
            return b"ERROR\r\n"
        command = parts[0].lower()
        noreply = parts[-1] == b"noreply"
        if command in _STORAGE:
            if len(parts) < 5 or not parts[4].isdigit():
                return b"CLIENT_ERROR bad command line format\r\n"
            data = await reader.readexactly(int(parts[4]) + 2)
            self.counts[f"cmd_{command.decode()}_count"] += 1
            request = line.rstrip(b"\r\n").removesuffix(b" noreply") + b"\r\n" + data
            reply = await self._all(request, servers)
        elif command in _KEYED:
            self.counts[f"cmd_{command.decode()}_count"] += 1
            request = line.rstrip(b"\r\n").removesuffix(b" noreply") + b"\r\n"
            reply = await self._all(request, servers)
        elif command in _GETS:
            self.counts[f"cmd_{command.decode()}_count"] += 1
            out = b""
            for key in parts[1:]:
                for backend in servers:
                    found = await backend.get(command, key)
                    if found:
                        out += found
                        break
            return out + b"END\r\n"
        elif command == b"flush_all":
            reply = await self._all(
                line.rstrip(b"\r\n").removesuffix(b" noreply") + b"\r\n", servers
            )
        elif command == b"version":
            return b"VERSION sandbox-replset-router\r\n"
        elif command == b"stats":
            return self._stats(servers)
        elif command == b"quit":
            return None
        else:
            return b"ERROR\r\n"
        return b"" if noreply else reply

    async def _all(self, request: bytes, servers: list[_Backend]) -> bytes:
        if not servers:
            return b"SERVER_ERROR no servers in pool A\r\n"
        replies = await asyncio.gather(*(b.line_request(request) for b in servers))
        return max(replies, key=_severity)  # the first of the worst

    def _stats(self, servers: list[_Backend]) -> bytes:
        stats = {
            "pid": os.getpid(),
            "uptime": int(time.time() - self.started),
            "time": int(time.time()),
            "version": "sandbox-replset-router",
            "num_servers": len(servers),
            "num_clients": self.clients,
            **{
                k: self.counts.get(k, 0)
                for k in ("cmd_get_count", "cmd_set_count", "cmd_delete_count")
            },
            **dict(self.counts),
        }
        return b"".join(f"STAT {k} {v}\r\n".encode() for k, v in stats.items()) + b"END\r\n"


class _Loop:
    """One event loop thread for every listener of a sandbox."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="sandbox-net", daemon=True
        )
        self.thread.start()

    def call(self, coro, timeout: float = 5):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


# -- the controller -------------------------------------------------------------------------------


class Network:
    """Runs what pods and Services would run on a real cluster, on this machine's loopback."""

    def __init__(
        self,
        store: Store,
        *,
        run_processes: bool = True,
        max_processes: int | None = None,
        memcached_max_mb: int | None = None,
    ):
        self.store = store
        self.run_processes = run_processes
        self.max_processes = (
            max_processes
            if max_processes is not None
            else int(os.environ.get("SANDBOX_MAX_PROCESSES", DEFAULT_MAX_PROCESSES))
        )
        self.memcached_max_mb = (
            memcached_max_mb
            if memcached_max_mb is not None
            else int(os.environ.get("SANDBOX_MEMCACHED_MAX_MB", DEFAULT_MEMCACHED_MAX_MB))
        )
        self.base: int | None = None
        self.records: dict[tuple[str, str], Running] = {}
        self._sockets: list[socket.socket] = []
        self._spawner: _Spawner | None = None
        self._loop: _Loop | None = None
        self._proxy = KubeProxy()
        self._proxied: dict = {}
        self._dying: list[tuple[subprocess.Popen, float]] = []
        self._backoff: dict[tuple[str, str], float] = {}
        self._run_dir: str | None = None
        self._said: set[str] = set()
        self.memcached_binary = shutil.which("memcached")
        self.nutcracker_binary = shutil.which("nutcracker")

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def plan(self) -> AddressPlan:
        return self.store.addresses

    def claim(self, preferred: int | None) -> int:
        """Hold a 127.N.0.0/16 for this sandbox (the persisted N when still free)."""
        if self.base is None:
            self.base, self._sockets = claim_base(preferred)
            self.store.addresses = AddressPlan(self.base)
            if preferred is not None and preferred != self.base:
                logger.warning(
                    "sandbox network 127.%s.0.0/16 is taken; moving to 127.%s.0.0/16",
                    preferred,
                    self.base,
                )
        return self.base

    def start(self) -> None:
        if not self.run_processes or self._loop is not None or not self._sockets:
            return  # off, already on, or 127.N.x.x is not a local address here
        self._spawner = _Spawner()
        self._loop = _Loop()
        self._run_dir = tempfile.mkdtemp(prefix="sandbox-net-")
        self._say_missing()

    def stop(self) -> None:
        """Stop every process and listener (the pods keep their status; start() resumes)."""
        records, self.records = list(self.records.values()), {}
        procs = [r.proc for r in records if r.proc is not None] + [p for p, _ in self._dying]
        self._dying = []
        for proc in procs:
            _terminate(proc)
        deadline = time.monotonic() + 2
        for proc in procs:
            try:
                proc.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _terminate(proc, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2)
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.call(self._proxy.close())
            for r in records:
                if r.router is not None:
                    with contextlib.suppress(Exception):
                        self._loop.call(r.router.close())
            self._loop.close()
            self._loop = None
        self._proxied = {}
        if self._spawner is not None:
            self._spawner.close()
            self._spawner = None
        if self._run_dir:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    def release(self) -> None:
        """Give the network back (the sandbox is going away for good)."""
        self.stop()
        for sock in self._sockets:
            sock.close()
        self._sockets = []
        self.base = None

    def _say_missing(self) -> None:
        for binary, what in (("memcached", "memcached pods"), ("nutcracker", "sharded routers")):
            if getattr(self, f"{binary}_binary") is None and binary not in self._said:
                self._said.add(binary)
                logger.warning(
                    "sandbox: no %s binary on PATH: %s are simulated (nothing listens); "
                    "install the Debian package %s",
                    binary,
                    what,
                    binary,
                )

    @property
    def active(self) -> bool:
        return self._loop is not None

    def count(self) -> int:
        """Containers running for real now (memcached, nutcracker, replset routers)."""
        return len(self.records)

    # -- the kubelet's hooks ----------------------------------------------------------------------

    def backed(self, pod: dict, container: dict) -> str | None:
        """What runs for real for this container: memcached | nutcracker | replset | None."""
        if not self.active:
            return None
        kind = container_kind(container)
        if kind == "memcached":
            return "memcached" if self.memcached_binary else None
        if kind == "mcrouter":
            config = self._router_config(pod, container)
            if config is None:
                return None
            if config[0] == "sharded":
                return "nutcracker" if self.nutcracker_binary else None
            return "replset"
        return None

    def run(self, pod: dict, container: dict, pod_ip: str) -> str | None:
        """Start the container's process; the reason (for the pod's status) if it cannot."""
        kind = self.backed(pod, container)
        if kind is None:
            return None
        key = (pod["metadata"]["uid"], container["name"])
        if key in self.records:
            return None
        if len(self.records) >= self.max_processes:
            return (
                f"sandbox: not started: {len(self.records)} containers already run for real, "
                f"the limit is {self.max_processes} (SANDBOX_MAX_PROCESSES); scale down or "
                f"delete another instance and it starts"
            )
        record = Running(
            uid=key[0],
            namespace=pod["metadata"]["namespace"],
            pod=pod["metadata"]["name"],
            container=container["name"],
            kind=kind,
            ip=pod_ip,
            port=_container_port(container, ROUTER_PORT),
        )
        try:
            if kind == "memcached":
                self._start_memcached(record, container)
            elif kind == "nutcracker":
                config = self._router_config(pod, container)
                assert config is not None
                self._start_nutcracker(record, config)
            else:
                config = self._router_config(pod, container)
                assert config is not None and self._loop is not None
                record.config = config
                record.router = ReplsetRouter(
                    record, list(config[1]), unresolved=self.plan.unused_ip
                )
                self._loop.call(record.router.start())
        except (OSError, RuntimeError, concurrent.futures.TimeoutError) as exc:
            return f"sandbox: failed to start {kind}: {exc}"
        self.records[key] = record
        return None

    def container_log(self, pod: dict, container: str | None) -> list | None:
        """The real output of a container, [(datetime, line)], or None when simulated."""
        containers = (pod.get("spec") or {}).get("containers") or []
        if container is None and len(containers) == 1:
            container = containers[0]["name"]
        record = self.records.get((pod["metadata"].get("uid", ""), container or ""))
        return list(record.log) if record is not None else None

    # -- processes -------------------------------------------------------------------------------

    def _start_memcached(self, record: Running, container: dict) -> None:
        assert self.memcached_binary and self._spawner
        limit = _quantity_mb(((container.get("resources") or {}).get("limits") or {}).get("memory"))
        memory = min(limit or 64, self.memcached_max_mb)
        argv = [
            self.memcached_binary,
            "-l",
            record.ip,
            "-p",
            str(record.port),
            "-U",
            "0",
            "-m",
            str(memory),
            "-c",
            "1024",
            "-vv",  # -v alone prints nothing but errors; -vv is the startup and each connection
        ]
        # memcached refuses to run as root without -u, but its setuid() would clear
        # PR_SET_PDEATHSIG: start it as nobody instead (the same user -u would switch to).
        self._spawn(record, argv, user="nobody" if os.geteuid() == 0 else None)

    def _start_nutcracker(self, record: Running, config: tuple) -> None:
        assert self.nutcracker_binary and self._run_dir
        record.config = config
        path = os.path.join(self._run_dir, f"{record.uid}-{record.container}.yml")
        servers = "".join(f"   - {ip}:{port}:1 {name}\n" for name, (ip, port) in config[1])
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(
                "A:\n"
                f"  listen: {record.ip}:{record.port}\n"
                "  hash: md5\n"  # nutcracker's fnv1a_64 clusters short keys on one server
                "  distribution: ketama\n"
                "  timeout: 1000\n"
                "  auto_eject_hosts: false\n"
                "  server_connections: 1\n"
                + ("  servers:\n" + servers if servers else "  servers: []\n")
            )
        argv = [
            self.nutcracker_binary,
            "-c",
            path,
            "-a",
            record.ip,
            "-s",
            "22222",
            "-o",
            "/dev/stderr",
            "-p",
            os.path.join(self._run_dir, f"{record.uid}-{record.container}.pid"),
        ]
        self._spawn(record, argv)

    def _spawn(self, record: Running, argv: list[str], user: str | None = None) -> None:
        assert self._spawner is not None
        proc = self._spawner.spawn(argv, user)
        record.proc = proc
        threading.Thread(
            target=_read_output, args=(proc, record), name=f"log-{record.pod}", daemon=True
        ).start()

    def _stop_record(self, record: Running) -> None:
        if record.proc is not None:
            _terminate(record.proc)
            self._dying.append((record.proc, time.monotonic() + 2))
        if record.router is not None and self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.call(record.router.close())

    # -- router configuration ----------------------------------------------------------------------

    def _router_config(self, pod: dict, container: dict) -> tuple | None:
        """(setup, ((server name, (ip, port)), ...)) from the mounted mcrouter config."""
        ns = pod["metadata"]["namespace"]
        mounted = {m.get("name") for m in container.get("volumeMounts") or []}
        data: dict = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = (volume.get("configMap") or {}).get("name")
            if name and volume.get("name") in mounted:
                cm = self.store.peek(CONFIGMAP, ns, name)
                if cm is not None:
                    data = cm.get("data") or {}
                    break
        wanted = "config.json"
        for arg in container.get("args") or []:
            if arg.startswith("--config-file="):
                wanted = arg.rsplit("/", 1)[-1]
        try:
            config = json.loads(data.get(wanted) or next(iter(data.values()), ""))
        except (ValueError, StopIteration):
            return None
        if not isinstance(config, dict):
            return None
        route = config.get("route")
        servers: list = []
        for pool in (config.get("pools") or {}).values():
            servers.extend(pool.get("servers") or [])
        resolved = tuple(self._resolve(ns, s) for s in servers)
        if isinstance(route, str) and route.startswith("PoolRoute"):
            return ("sharded", resolved)
        if isinstance(route, dict):
            return ("replset", resolved)
        return None

    def _resolve(self, ns: str, server: str) -> tuple[str, tuple[str, int]]:
        """Cluster DNS for `<pod>.<service>.<ns>.svc.cluster.local:<port>` (or an IP)."""
        host, _, port_text = server.rpartition(":")
        port = int(port_text) if port_text.isdigit() else ROUTER_PORT
        if re.match(r"^\d+\.\d+\.\d+\.\d+$", host):
            return host, (host, port)
        labels = host.split(".")
        name = labels[0]
        pod = self.store.peek(POD, labels[2] if len(labels) > 2 else ns, name)
        ip = ((pod or {}).get("status") or {}).get("podIP")
        subdomain = ((pod or {}).get("spec") or {}).get("subdomain")
        if pod is None or not ip or (len(labels) > 1 and subdomain != labels[1]):
            return name, (self.plan.unused_ip, port)
        return name, (ip, port)

    # -- the loop ----------------------------------------------------------------------------------

    def tick(self) -> None:
        """Follow pods and Services: stop, (re)start, mark ready, reconfigure, proxy."""
        if not self.active:
            return
        pods = {p["metadata"]["uid"]: p for p in self.store.scan(POD)}
        for key, record in list(self.records.items()):
            pod = pods.get(key[0])
            if (
                pod is None
                or pod["metadata"].get("deletionTimestamp")
                or ((pod.get("status") or {}).get("phase") != "Running")
            ):
                del self.records[key]
                self._stop_record(record)
        self._reap()
        for raw in pods.values():
            if raw["metadata"].get("deletionTimestamp"):
                continue
            status = raw.get("status") or {}
            if not status.get("podIP") or not status.get("containerStatuses"):
                continue
            for container in raw["spec"].get("containers") or []:
                if container_kind(container) is None:
                    continue
                self._follow(raw, container, status)
        self._proxy_services(pods)

    def _container_status(self, pod: dict, name: str) -> dict:
        return next(
            (
                s
                for s in (pod.get("status") or {}).get("containerStatuses") or []
                if s["name"] == name
            ),
            {},
        )

    def _follow(self, raw: dict, container: dict, status: dict) -> None:
        key = (raw["metadata"]["uid"], container["name"])
        record = self.records.get(key)
        state = self._container_status(raw, container["name"]).get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        if record is None:
            if "running" in state and status.get("phase") == "Running":
                # The sandbox restarted: run it again. The pod stays ready (it comes up in
                # milliseconds; flapping would mark its MemcachedCluster Degraded for nothing).
                error = self.run(raw, container, status["podIP"])
                if error:
                    self._set_waiting(raw, container["name"], CREATE_ERROR, error)
                elif key in self.records:
                    self.records[key].ready = bool(
                        self._container_status(raw, container["name"]).get("ready")
                    )
            elif waiting == CREATE_ERROR:
                error = self.run(raw, container, status["podIP"])
                if not error and key in self.records:
                    self._set_running(raw, container["name"])
                elif error and error != (state.get("waiting") or {}).get("message"):
                    self._set_waiting(raw, container["name"], CREATE_ERROR, error)
            elif (
                waiting == BACKOFF
                and time.monotonic() >= self._backoff.get(key, 0)
                and not self.run(raw, container, status["podIP"])
                and key in self.records
            ):
                self._set_running(raw, container["name"])
            return
        if record.proc is not None and record.proc.poll() is not None:
            del self.records[key]
            self._crashed(raw, container["name"], record)
            return
        if record.kind in ("nutcracker", "replset"):
            config = self._router_config(raw, container)
            if config is not None and config != record.config:
                self._reconfigure(raw, container, record, config)
        if not record.ready and _listening(record.ip, record.port):
            record.ready = True
            self._set_ready(raw, container["name"], True)

    def _reconfigure(self, pod: dict, container: dict, record: Running, config: tuple) -> None:
        if record.kind == "replset" and config[0] == "replset" and record.router is not None:
            record.config = config
            record.router.reconfigure(list(config[1]))
            return
        # nutcracker reads its config once: start a new one (the pod stays ready).
        key = (record.uid, record.container)
        del self.records[key]
        self._stop_record(record)
        if record.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                record.proc.wait(timeout=2)
        error = self.run(pod, container, record.ip)
        if error:
            self._set_waiting(pod, container["name"], CREATE_ERROR, error)
            return
        fresh = self.records.get(key)
        if fresh is not None:
            earlier = list(record.log)
            earlier.append(
                (
                    datetime.datetime.now(datetime.UTC),
                    f"sandbox: configuration changed ({len(config[1])} servers); restarting",
                )
            )
            fresh.log.extendleft(reversed(earlier))
            fresh.ready = record.ready  # a reload, not a new container: readiness carries over

    def _reap(self) -> None:
        alive = []
        for proc, deadline in self._dying:
            if proc.poll() is not None:
                continue
            if time.monotonic() > deadline:
                _terminate(proc, signal.SIGKILL)
            alive.append((proc, deadline))
        self._dying = alive

    # -- pod status ----------------------------------------------------------------------------------

    def _save_container(self, raw: dict, name: str, change) -> None:
        pod = self.store.peek(POD, raw["metadata"]["namespace"], raw["metadata"]["name"])
        if pod is None or pod["metadata"]["uid"] != raw["metadata"]["uid"]:
            return
        statuses = pod["status"].get("containerStatuses") or []
        for cs in statuses:
            if cs["name"] == name:
                change(cs)
        all_ready = all(cs.get("ready") for cs in statuses)
        started = all("running" in (cs.get("state") or {}) for cs in statuses)
        unready = [cs["name"] for cs in statuses if not cs.get("ready")]
        stamp = now()
        for cond in pod["status"].get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady"):
                value = "True" if all_ready else "False"
                if cond.get("status") != value:
                    cond["lastTransitionTime"] = stamp
                cond["status"] = value
                cond.pop("reason", None)
                cond.pop("message", None)
                if not all_ready:
                    cond["reason"] = "ContainersNotReady"
                    cond["message"] = f"containers with unready status: [{' '.join(unready)}]"
        pod["status"]["phase"] = (
            "Running" if started or pod["status"].get("phase") == "Running" else "Pending"
        )
        self.store.save(POD, pod, manager="kubelet", status=True)

    def _event(self, raw: dict, reason: str, message: str, type_: str = "Normal") -> None:
        events.record(
            self.store,
            raw,
            reason=reason,
            message=message,
            component="kubelet",
            type_=type_,
            host=raw["spec"].get("nodeName"),
        )

    def _set_ready(self, raw: dict, name: str, ready: bool) -> None:
        def change(cs):
            cs["ready"] = ready
            cs["started"] = True

        self._save_container(raw, name, change)

    def _set_running(self, raw: dict, name: str) -> None:
        def change(cs):
            cs["state"] = {"running": {"startedAt": now()}}
            cs["ready"] = False
            cs["started"] = True

        self._save_container(raw, name, change)
        self._event(raw, "Started", f"Started container {name}")

    def _set_waiting(self, raw: dict, name: str, reason: str, message: str) -> None:
        def change(cs):
            cs["state"] = {"waiting": {"reason": reason, "message": message}}
            cs["ready"] = False
            cs["started"] = False

        self._save_container(raw, name, change)
        self._event(raw, "Failed", f"Error: {message}", "Warning")

    def _crashed(self, raw: dict, name: str, record: Running) -> None:
        assert record.proc is not None
        code = record.proc.returncode
        key = (record.uid, record.container)
        cs = self._container_status(raw, name)
        restarts = cs.get("restartCount", 0) + 1
        delay = min(30.0, 2.0 ** min(restarts, 5) / 2)
        self._backoff[key] = time.monotonic() + delay
        started = ((cs.get("state") or {}).get("running") or {}).get(
            "startedAt", _stamp(record.started)
        )

        def change(c):
            c["restartCount"] = restarts
            c["lastState"] = {
                "terminated": {
                    "exitCode": code if code >= 0 else 128 - code,
                    "reason": "Error" if code else "Completed",
                    "startedAt": started,
                    "finishedAt": now(),
                    "containerID": c.get("containerID", ""),
                }
            }
            c["state"] = {
                "waiting": {
                    "reason": BACKOFF,
                    "message": f"back-off {int(delay)}s restarting failed container={name} "
                    f"pod={raw['metadata']['name']}_{raw['metadata']['namespace']}"
                    f"({raw['metadata']['uid']})",
                }
            }
            c["ready"] = False
            c["started"] = False

        self._save_container(raw, name, change)
        tail = " / ".join(line for _, line in list(record.log)[-3:])
        self._event(
            raw,
            "BackOff",
            f"Back-off restarting failed container {name}: exited {code}: {tail}",
            "Warning",
        )

    # -- kube-proxy -----------------------------------------------------------------------------------

    def _proxy_services(self, pods: dict) -> None:
        assert self._loop is not None
        nodes = [
            a["address"]
            for n in self.store.scan(NODE)
            for a in (n.get("status") or {}).get("addresses") or []
            if a.get("type") == "InternalIP"
        ]
        by_ns: dict[str, list[dict]] = collections.defaultdict(list)
        for pod in pods.values():
            by_ns[pod["metadata"]["namespace"]].append(pod)
        desired: dict[tuple[str, int], tuple[str, list]] = {}
        for svc in self.store.scan(SERVICE):
            spec = svc.get("spec") or {}
            ip = spec.get("clusterIP")
            selector = spec.get("selector") or {}
            if spec.get("type") == "ExternalName" or not ip or ip == "None" or not selector:
                continue
            label = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
            members = [
                p
                for p in by_ns[svc["metadata"]["namespace"]]
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                and (p.get("status") or {}).get("phase") == "Running"
                and (p.get("status") or {}).get("podIP")
                and not p["metadata"].get("deletionTimestamp")
                and (spec.get("publishNotReadyAddresses") or _ready(p))
            ]
            ingress = [
                i["ip"]
                for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                if i.get("ip")
            ]
            for port in spec.get("ports") or []:
                if port.get("protocol", "TCP") != "TCP" or not port.get("port"):
                    continue
                endpoints = [
                    (p["status"]["podIP"], target)
                    for p in members
                    if (target := _target_port(p, port.get("targetPort", port["port"])))
                ]
                if not endpoints:
                    continue  # nothing listens: connection refused, as with no endpoints
                addresses = [(ip, port["port"])]
                if spec.get("type") in ("NodePort", "LoadBalancer") and port.get("nodePort"):
                    addresses += [(node, port["nodePort"]) for node in nodes]
                if spec.get("type") == "LoadBalancer":
                    addresses += [(address, port["port"]) for address in ingress]
                for address in addresses:
                    if address[0].startswith("127."):
                        desired[address] = (label, endpoints)
        if desired != self._proxied:
            self._proxied = desired
            self._loop.call(self._proxy.apply(desired))


def _ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _target_port(pod: dict, target) -> int | None:
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return port.get("containerPort")
    return None


def readdress(store: Store) -> None:
    """Move every address of a restored state into the store's plan (a state file of another
    N, or one written before the sandbox had real addresses). In place: before serving."""
    plan: AddressPlan = store.addresses
    for node in store.scan(NODE):
        spec = node.get("spec") or {}
        if spec.get("podCIDR"):
            spec["podCIDR"] = plan.translate(spec["podCIDR"])
        spec["podCIDRs"] = [plan.translate(c) for c in spec.get("podCIDRs") or []] or spec.get(
            "podCIDRs"
        )
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                a["address"] = plan.translate(a["address"])
    for pod in store.scan(POD):
        status = pod.get("status") or {}
        for key in ("hostIP", "podIP"):
            if status.get(key):
                status[key] = plan.translate(status[key])
        for key in ("hostIPs", "podIPs"):
            for item in status.get(key) or []:
                item["ip"] = plan.translate(item["ip"])
    for svc in store.scan(SERVICE):
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") and spec["clusterIP"] != "None":
            spec["clusterIP"] = plan.translate(spec["clusterIP"])
            spec["clusterIPs"] = [plan.translate(ip) for ip in spec.get("clusterIPs") or []]
        for item in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if item.get("ip"):
                item["ip"] = plan.translate(item["ip"])
