"""Reading a kubeconfig into credentials: pure (PyYAML only), no Kubernetes client.

Services validate what a platform admin pastes with it inside a web request, so it must
stay cheap to import; the gateway (clusters/kube.py) turns the credentials into a client
on the worker.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True)
class Credentials:
    """How to reach one API server; the PEM fields are the decoded certificate data."""

    api_url: str
    token: str = ""
    ca_data: str = ""  # PEM
    client_cert_data: str = ""  # PEM
    client_key_data: str = ""  # PEM
    skip_tls_verify: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def fingerprint(self) -> str:
        """Changes whenever the credentials do, so a cached client is replaced."""
        raw = json.dumps(
            [self.api_url, self.token, self.ca_data, self.client_cert_data, self.skip_tls_verify],
            sort_keys=True,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message says why."""


def b64_pem(value: str) -> str:
    """A kubeconfig's `*-data` field (base64 of a PEM) as the PEM text."""
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        raise KubeconfigError("a certificate in the kubeconfig is not valid base64") from None


def parse_kubeconfig(text: str) -> Credentials:
    """Reads the current context of a kubeconfig into credentials (inline data only)."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"not valid YAML: {exc}") from None
    if not isinstance(config, dict) or config.get("kind", "Config") != "Config":
        raise KubeconfigError("not a kubeconfig (kind: Config)")
    context_name = config.get("current-context")
    contexts = {c.get("name"): c.get("context", {}) for c in config.get("contexts") or []}
    if not context_name or context_name not in contexts:
        raise KubeconfigError("the kubeconfig has no current-context")
    context = contexts[context_name] or {}
    clusters = {c.get("name"): c.get("cluster", {}) for c in config.get("clusters") or []}
    users = {u.get("name"): u.get("user", {}) for u in config.get("users") or []}
    cluster = clusters.get(context.get("cluster"))
    if not cluster or not cluster.get("server"):
        raise KubeconfigError(f"context “{context_name}” names no cluster with a server URL")
    user = users.get(context.get("user")) or {}
    if "exec" in user or "auth-provider" in user:
        raise KubeconfigError(
            "exec and auth-provider plugins cannot run on the platform; use a token "
            "or an inline client certificate"
        )
    if (
        user.get("tokenFile")
        or cluster.get("certificate-authority")
        or user.get("client-certificate")
    ):
        raise KubeconfigError("file references cannot be read here; inline the data (*-data)")
    credentials = Credentials(
        api_url=cluster["server"],
        token=user.get("token", ""),
        ca_data=b64_pem(cluster["certificate-authority-data"])
        if cluster.get("certificate-authority-data")
        else "",
        client_cert_data=b64_pem(user["client-certificate-data"])
        if user.get("client-certificate-data")
        else "",
        client_key_data=b64_pem(user["client-key-data"]) if user.get("client-key-data") else "",
        skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        extra={"context": context_name},
    )
    if not (credentials.token or credentials.client_cert_data):
        raise KubeconfigError(
            f"user of context “{context_name}” has no token or client certificate"
        )
    return credentials
