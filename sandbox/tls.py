"""The sandbox's own certificate authority and a kubeconfig that trusts it.

client-go (kubectl) never sends a bearer token over plain HTTP, so a sandbox that kubectl
can use serves HTTPS. The CA is made once (openssl CLI, as the standard library cannot
make certificates) and kept in a directory, so clients configured once keep working
across restarts; the server certificate it signs names 127.0.0.1 and localhost.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import yaml


class Certificates(NamedTuple):
    ca_file: Path
    cert_file: Path
    key_file: Path


def _openssl(*args: str, cwd: Path) -> None:
    if not shutil.which("openssl"):
        raise RuntimeError("openssl is needed to make the sandbox's certificates")
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def ensure_certificates(directory: str | Path) -> Certificates:
    """The CA and the server certificate in `directory`, made on first use, then reused."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    found = Certificates(root / "ca.crt", root / "server.crt", root / "server.key")
    if all(path.exists() for path in found):
        return found
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=sandbox-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=root,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=sandbox-apiserver",
        cwd=root,
    )  # fmt: skip
    (root / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        encoding="utf-8",
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-out", "server.crt", "-extfile", "server.ext",
        cwd=root,
    )  # fmt: skip
    for leftover in ("server.csr", "server.ext", "ca.srl"):
        (root / leftover).unlink(missing_ok=True)
    (root / "ca.key").chmod(0o600)
    (root / "server.key").chmod(0o600)
    return found


def kubeconfig(*, server: str, ca_file: str | Path, token: str, name: str = "sandbox") -> dict:
    """A kubeconfig (clientcmd v1) for `server`, trusting the sandbox's CA, with the token."""
    ca_data = base64.b64encode(Path(ca_file).read_bytes()).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}
        ],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, **kwargs: str | Path) -> Path:
    """Writes `kubeconfig(**kwargs)` to `path`, readable by its owner only (it holds a token)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig(**kwargs), sort_keys=False), encoding="utf-8")  # type: ignore[arg-type]
    target.chmod(0o600)
    return target


if __name__ == "__main__":  # python -m sandbox.tls DIR: make the CA before anything needs it
    import sys

    made = ensure_certificates(sys.argv[1] if len(sys.argv) > 1 else "var/sandbox-tls")
    print(made.ca_file)
