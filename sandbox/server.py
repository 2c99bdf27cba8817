"""SandboxCluster: a simulated Kubernetes API server (with OLM) over HTTP (or HTTPS).

Like LocalStack for AWS: the official `kubernetes` client talks to it as to a
real cluster, controllers advance objects on a background ticker, and faults
(errors, latency, conflicts, an unreachable server) can be injected on demand.

    sb = SandboxCluster(port=0, token="secret")
    sb.start()
    ...  # kubernetes.client.Configuration(host=sb.url, api_key={"authorization": "Bearer secret"})
    tenant = sb.issue_token("team-a", "default")  # a ServiceAccount token, authorized by RBAC
    sb.stop()
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import json
import logging
import os
import signal
import socket
import ssl
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

from . import errors, rbac
from .catalog import Catalog
from .controllers import KubeControllers, seed_objects
from .errors import ApiError
from .faults import Faults
from .handler import Request, Response, Router, faults_response, watch_stream
from .kcm import KcmControllers
from .logstream import LogSource
from .memcached import MemcachedOperator
from .network import Network, readdress
from .olm import OLMControllers, olm_crds, seed_operator_groups
from .rbac import RBAC, RBACStore
from .resources import BUILTIN_TYPES
from .workqueue import FULL, Scope, dirty_scope

logger = logging.getLogger(__name__)

STATE_VERSION = 1


class LoggedRequest(NamedTuple):
    """One API request the sandbox served (query parameters as a dict)."""

    method: str
    path: str
    query: dict


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, cluster: SandboxCluster):
        self.cluster = cluster
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self):
        conn, address = super().get_request()
        tls = self.cluster._tls
        if tls is not None:  # handshake in the connection's thread (_Handler.setup), not here
            conn = tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, address

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop open keep-alive connections too, so clients really see the server go away."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def handle_error(self, request, client_address):
        logger.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-sandbox"
    # Headers and body go out as one segment: without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024
    server: _HTTPServer

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)  # a silent client must not hold the thread forever
            self.request.do_handshake()  # failures end up in _HTTPServer.handle_error
            self.request.settimeout(None)
        super().setup()

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        cluster = self.server.cluster
        req = Request(self, method)
        if req.path.startswith("/_sandbox/"):
            self._control(cluster, req)
            return
        cluster._log_request(req)
        try:
            if cluster.faults.latency:
                time.sleep(cluster.faults.latency)
            req.user = cluster._authenticate(self.headers.get("Authorization"))
            if req.user is None:
                raise errors.unauthorized()
            cluster.rbac.check(req.user, method, req.raw_path, req.query)
            if cluster.faults.roll_error():
                raise errors.internal_error("etcdserver: request timed out (sandbox fault)")
            if cluster.faults.take_conflict(method):
                raise _fault_conflict(req.path)
            response = Router(cluster).handle(req)
            if isinstance(response.body, tuple) and response.body[0] == "watch":
                watch_stream(self, cluster, req, response.body[1])
                return
            if isinstance(response.body, tuple) and response.body[0] == "stream":
                response.body[1](self)  # a streamed body (pods/log?follow=true)
                return
        except ApiError as exc:
            response = Response(exc.code, exc.status())
        except Exception as exc:  # a sandbox bug must look like a server error, not hang
            logger.exception("sandbox error serving %s %s", method, req.path)
            response = Response(500, errors.internal_error(repr(exc)).status())
        self._send(response)

    def _control(self, cluster: SandboxCluster, req: Request) -> None:
        deferred: dict = {}
        try:
            user = cluster._authenticate(self.headers.get("Authorization"))
            if user is None:
                raise errors.unauthorized()
            if user is not rbac.ADMIN:  # control endpoints are the admin's alone
                raise rbac.forbidden(rbac.Attributes(user, req.method.lower(), False, req.raw_path))
            if req.path == "/_sandbox/faults":
                response, deferred = faults_response(cluster, req)
            elif req.path == "/_sandbox/catalog/csvs" and req.method == "POST":
                body = req.json_body() or {}
                try:
                    name = cluster.publish_csv(**body)
                except (TypeError, KeyError) as exc:
                    raise errors.bad_request(str(exc)) from None
                response = Response(201, {"name": name})
            elif req.path == "/_sandbox/tokens" and req.method == "POST":
                response = Response(201, _issue_token_response(cluster, req))
            elif req.path == "/_sandbox/tick" and req.method == "POST":
                cluster.tick()
                response = Response(200, {"resourceVersion": cluster.store.resource_version})
            else:
                raise errors.page_not_found()
        except ApiError as exc:
            response = Response(exc.code, exc.status())
        if deferred:
            self.close_connection = True
        self._send(response)
        if deferred.get("down_for"):
            cluster.faults.go_down_for(float(deferred["down_for"]))
        elif "down" in deferred:
            cluster.faults.down = bool(deferred["down"])

    def _send(self, response: Response) -> None:
        body = response.body
        if isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(body).encode()
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        extra = getattr(response, "headers", ())
        if not any(name == "Cache-Control" for name, _ in extra):
            self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in extra:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


def _issue_token_response(cluster: SandboxCluster, req: Request) -> dict:
    """POST /_sandbox/tokens {"namespace", "serviceAccount"[, "expirationSeconds"]}."""
    body = req.json_body() or {}
    if not isinstance(body, dict) or not body.get("namespace") or not body.get("serviceAccount"):
        raise errors.bad_request('expected {"namespace": ..., "serviceAccount": ...}')
    seconds = body.get("expirationSeconds")
    if seconds is not None and (not isinstance(seconds, int) or seconds <= 0):
        raise errors.bad_request("expirationSeconds must be a positive integer")
    with cluster.store.lock:
        return cluster.rbac.tokens.issue(
            body["namespace"], body["serviceAccount"], expiration_seconds=seconds
        )


def _fault_conflict(path: str) -> ApiError:
    parts = [p for p in path.split("/") if p]
    group = parts[1] if parts[:1] == ["apis"] and len(parts) > 1 else ""
    rest = parts[3:] if group else parts[2:]
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    resource = rest[0] if rest else "unknown"
    name = rest[1] if len(rest) > 1 else ""
    return errors.conflict(resource=resource, group=group, name=name)


class SandboxCluster:
    """A simulated cluster: API server, controllers, faults, optional persistence."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = "secret",
        tick_interval: float = 0.2,
        catalog_file: str | os.PathLike | None = None,
        state_file: str | os.PathLike | None = None,
        save_interval: float = 0.5,
        catalog_folders: dict[str, str] | None = None,
        tls_cert_file: str | os.PathLike | None = None,
        tls_key_file: str | os.PathLike | None = None,
        run_processes: bool | None = None,
        max_processes: int | None = None,
        resync_interval: float = 30.0,
    ):
        self.host = host
        self.port = port
        self.token = token
        self.tick_interval = tick_interval
        self.state_file = Path(state_file) if state_file else None
        self.save_interval = save_interval
        # HTTPS with this certificate (PEM; the key may be in the same file): client-go, and
        # so kubectl, never sends a bearer token over plain HTTP.
        self._tls: ssl.SSLContext | None = None
        if tls_cert_file:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(tls_cert_file, tls_key_file)
        self.store = RBACStore()  # the Store, also serving RBAC and the review APIs
        # Built-in catalogs plus {index image: folder} (community layout or FBC); a bad
        # folder raises CatalogError naming the file and the problem.
        self.catalog = Catalog.load(catalog_file, catalog_folders)
        self.faults = Faults(on_down=self._set_down)
        # What really runs (memcached, routers, kube-proxy) on the sandbox's 127.N.0.0/16;
        # run_processes=False (or SANDBOX_PROCESSES=0) leaves everything simulated (the
        # addresses stay real).
        if run_processes is None:
            run_processes = os.environ.get("SANDBOX_PROCESSES", "1") not in ("0", "false", "no")
        self.network = Network(self.store, run_processes=run_processes, max_processes=max_processes)
        self._network_base: int | None = None  # N of 127.N.0.0/16, kept in the state file
        self.kube = KubeControllers(
            self.store, image_pullable=self._image_pullable, runtime=self.network
        )
        self.kcm = KcmControllers(self.store)  # job, endpoints, disruption, HPA
        self.olm = OLMControllers(self.store, self.catalog)
        self.memcached = MemcachedOperator(self.store)
        # Where `kubectl logs -f` reads a container's whole log so far: (pod, container) -> str
        # (None: the synthetic log of sandbox.logs; real process output plugs in here).
        self.log_source: LogSource | None = None
        self.rbac = RBAC(self.store, token)  # ServiceAccount tokens, authorizer, default roles
        self.stopping = False
        self._httpd: _HTTPServer | None = None
        self._http_lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        # Bounded: a long-running `make run` sandbox must not grow without limit.
        self._requests: collections.deque[LoggedRequest] = collections.deque(maxlen=20000)
        self._requests_lock = threading.Lock()
        self._last_save = 0.0
        self._started = False
        # A full pass of every controller when something changed; otherwise only the real
        # processes are followed, and a full pass runs once per idle_tick_interval (time-based
        # work: registry polls, event expiry).
        self.idle_tick_interval = max(tick_interval, 1.0)
        self._wake = threading.Event()
        self._rv_at_last_pass: int | None = None
        self._last_pass = 0.0
        self.passes = 0  # passes run (tests and benches read it)
        # A pass is incremental (see workqueue.py): each controller reconciles the namespaces
        # changed since its previous pass began, and their dependents; every resync_interval
        # (and after wake(), at start) a pass reconciles everything, as informers' resync.
        self.resync_interval = resync_interval
        self._full_due = True
        self._last_full = 0.0
        self._controller_rv: dict[str, int | None] = {}
        self.full_passes = 0
        self.reconciled_namespaces = 0  # namespaces reconciled by incremental passes, summed

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> SandboxCluster:
        """Load or seed state, then serve HTTP and run controllers in background threads."""
        if self._started:
            return self
        loaded = self._load_state()
        self.network.claim(self._network_base)
        self._network_base = self.network.base
        if not loaded and not self.store.all_objects():
            self._seed()
        else:
            with self.store.lock:
                readdress(self.store)  # another N, or a state file from before real addresses
                self._upgrade_olm_crds()
        self.rbac.bootstrap()  # default ClusterRoles/Bindings, also into an older state file
        self.network.start()
        self._open()
        self._stop.clear()
        self.stopping = False
        self._ticker = threading.Thread(target=self._tick_loop, name="sandbox-ticker", daemon=True)
        self._ticker.start()
        self._started = True
        logger.info("sandbox cluster serving at %s", self.url)
        return self

    def stop(self) -> None:
        self.stopping = True
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=5)
        self._close()
        self.network.release()  # processes and listeners stop; the pods keep their status
        self.save_state()
        self._started = False

    def serve_forever(self) -> None:
        """Blocking variant (management command): serve until interrupted."""
        self.start()
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (honcho, docker stop) stops cleanly too, so the state file is written.
            signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> SandboxCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _open(self) -> None:
        with self._http_lock:
            if self._httpd is not None:
                return
            httpd = _HTTPServer((self.host, self.port), self)
            self.port = httpd.server_address[1]
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"sandbox-http-{self.port}",
                daemon=True,
            )
            thread.start()
            self._httpd = httpd

    def _close(self) -> None:
        with self._http_lock:
            httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_connections()
            with self.store.lock:
                self.store.changed.notify_all()  # wake watchers so they notice

    def _set_down(self, down: bool) -> None:
        if down:
            self._close()
        elif self._started:
            self._open()

    # -- requests --------------------------------------------------------------------------

    def _authenticate(self, header: str | None) -> rbac.UserInfo | None:
        """Bearer-token authentication (the scheme is case-insensitive, as in the API server).

        The admin token is `kubernetes-admin` in `system:masters`; a ServiceAccount token from
        `issue_token` (or the TokenRequest API) is that ServiceAccount; anything else is None
        (401). Without an admin token (token=None) requests that carry no ServiceAccount token
        act as the admin, as before RBAC.
        """
        scheme, _, token = (header or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            if self.token and hmac.compare_digest(token, self.token):
                return rbac.ADMIN
            with self.store.lock:
                user = self.rbac.tokens.authenticate(token)
            if user is not None:
                return user
        return None if self.token else rbac.ADMIN

    def issue_token(
        self, namespace: str, service_account: str, *, expiration_seconds: int | None = None
    ) -> str:
        """A bearer token acting as ServiceAccount `namespace/service_account` (which must exist;
        NotFound otherwise). RBAC bindings decide what it may do; it stops working when the
        ServiceAccount is deleted, or after `expiration_seconds` if given."""
        with self.store.lock:
            issued = self.rbac.tokens.issue(
                namespace, service_account, expiration_seconds=expiration_seconds
            )
        return issued["token"]

    def _log_request(self, req: Request) -> None:
        with self._requests_lock:
            self._requests.append(LoggedRequest(req.method, req.path, dict(req.query)))

    @property
    def request_log(self) -> list[LoggedRequest]:
        with self._requests_lock:
            return list(self._requests)

    def clear_request_log(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    # -- controllers -------------------------------------------------------------------------

    def tick(self, *, full: bool = False) -> None:
        """Run every controller once: over what changed since its previous pass (and what
        reads that), or over everything (`full`, a resync). The ticker calls this when
        something may have changed."""
        self.passes += 1
        if full or self._full_due or time.monotonic() - self._last_full >= self.resync_interval:
            full = True
            self._full_due = False
            self._last_full = time.monotonic()
            self.full_passes += 1
        scoped: tuple[tuple[str, OLMControllers | MemcachedOperator | KubeControllers], ...] = (
            ("olm", self.olm),
            ("memcached", self.memcached),
            ("kube", self.kube),
        )
        for name, controller in scoped:
            # One controller at a time holds the lock, so API requests interleave between them.
            with self.store.lock:
                try:
                    controller.tick(self._scope(name, controller, full))
                except Exception:
                    logger.exception("sandbox controller %s failed", type(controller).__name__)
        # Cheap whatever changed: they check for it (kcm: Jobs, Endpoints, PDBs and HPAs).
        for other in (self.kcm, self.network, self.rbac):
            with self.store.lock:
                try:
                    other.tick()
                except Exception:
                    logger.exception("sandbox controller %s failed", type(other).__name__)

    def _scope(self, name: str, controller, full: bool) -> Scope:
        """What `controller` reconciles now (under the store lock): the changes since its last
        pass began, their readers, and what it asked to see again (`requeue`)."""
        since = self._controller_rv.get(name)
        self._controller_rv[name] = self.store.revision
        requeued = getattr(controller, "requeue", None) or set()
        if requeued:
            controller.requeue = set()
        if full:
            return FULL
        scope = dirty_scope(self.store, self.store.changes_since(since))
        if requeued and not scope.full:
            scope = Scope(namespaces=scope.namespaces | requeued)
        if not scope.full:
            self.reconciled_namespaces += len(scope.namespaces)
        return scope

    def wake(self) -> None:
        """Make the next tick a full pass (state the store does not see changed: catalogs)."""
        self._full_due = True
        self._wake.set()

    def _pass_due(self) -> bool:
        """Controllers are level-triggered functions of the store, so a pass over an unchanged
        store changes nothing -- unless one of them waits on time (bundle unpacking) or the
        wall clock matters (event expiry, the periodic resync)."""
        return (
            self._wake.is_set()
            or self.store.revision != self._rv_at_last_pass
            or self.olm.busy
            or time.monotonic() - self._last_pass >= self.idle_tick_interval
        )

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_interval):
            if self._pass_due():
                self._wake.clear()
                # The revision before the pass: a pass that writes makes the next one due.
                self._rv_at_last_pass = self.store.revision
                self.tick()
                self._last_pass = time.monotonic()
            else:
                # Real processes exit, start listening or crash on their own.
                with self.store.lock:
                    try:
                        self.network.tick()
                    except Exception:
                        logger.exception("sandbox controller Network failed")
            if self.store.dirty and time.monotonic() - self._last_save >= self.save_interval:
                self.save_state()

    def container_log(self, pod: dict, container: str | None) -> list | None:
        """A container's real output [(datetime, line)], None when it is simulated."""
        return self.network.container_log(pod, container)

    def _image_pullable(self, pod: dict, image: str) -> bool:
        """Catalog registry pods pull only index images the sandbox knows; others always."""
        if "olm.catalogSource" in (pod["metadata"].get("labels") or {}):
            return self.catalog.knows(image)
        return True

    def publish_csv(
        self,
        *,
        package: str,
        channel: str,
        version: str,
        image: str | None = None,
        replaces: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        operator_image: str | None = None,
        annotations: dict | None = None,
    ) -> str:
        """Publish a newer CSV as head of `channel`; subscriptions on it will upgrade."""
        with self.store.lock:
            name = self.catalog.publish_csv(
                package=package,
                channel=channel,
                version=version,
                image=image,
                replaces=replaces,
                display_name=display_name,
                description=description,
                operator_image=operator_image,
                annotations=annotations,
            )
            self.store.dirty = True
            self.wake()
            return name

    # -- state -------------------------------------------------------------------------------

    def _seed(self) -> None:
        by_kind = {t.kind: t for t in BUILTIN_TYPES}
        crd_type = by_kind["CustomResourceDefinition"]
        with self.store.lock:
            for rt, obj in seed_objects(self.store.addresses):
                self.store.save(rt, obj, manager="kube-apiserver", status=True)
            for crd in olm_crds():
                self.store.create(crd_type, None, crd, manager="olm-install")
            og_type = self.store.type_for("operators.coreos.com/v1", "OperatorGroup")
            assert og_type is not None  # served: its CRD was created (and established) above
            for og in seed_operator_groups():
                self.store.create(og_type, og["metadata"]["namespace"], og, manager="olm-install")
            self.store.dirty = True

    def _upgrade_olm_crds(self) -> None:
        """A state file written by an older sandbox keeps its OLM CRDs as they were (without
        printer columns, say); OLM's own upgrade replaces them, and so does this."""
        crd_type = next(t for t in BUILTIN_TYPES if t.kind == "CustomResourceDefinition")
        for crd in olm_crds():
            stored = self.store.peek(crd_type, None, crd["metadata"]["name"])
            if stored is None:
                self.store.create(crd_type, None, crd, manager="olm-install")
            elif stored.get("spec") != crd["spec"]:
                self.store.update(
                    crd_type,
                    None,
                    crd["metadata"]["name"],
                    {**stored, "spec": crd["spec"]},
                    manager="olm-install",
                )

    def _load_state(self) -> bool:
        if not self.state_file or not self.state_file.exists():
            return False
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            logger.warning("sandbox state file %s unreadable; starting fresh", self.state_file)
            return False
        if data.get("version") != STATE_VERSION:
            return False
        self.store.restore(data["store"])
        self.catalog.replay(data.get("published") or [])
        self._network_base = (data.get("network") or {}).get("base")
        return True

    def save_state(self) -> None:
        """Write the store to `state_file` (atomically); no-op without one."""
        if not self.state_file:
            return
        with self.store.lock:
            data = {
                "version": STATE_VERSION,
                "store": self.store.snapshot(),
                "published": self.catalog.published,
                "network": {"base": self._network_base},
            }
            self.store.dirty = False
        self._last_save = time.monotonic()
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".sandbox-state-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.state_file)
