"""Pure: the container images an operator bundle runs, and the role each plays.

Two shapes carry them. A whole ClusterServiceVersion has `spec.relatedImages`
(`[{name, image}]`) and the containers of `spec.install.spec.deployments`. A
PackageManifest — all a catalog serves over the Kubernetes API before anything is
installed — has `status.channels[].currentCSVDesc.relatedImages`, packageserver's list of
those same references as plain strings, and the CSV's annotations (`containerImage`
names the operator's image when the author set it).

The role rule, in this order:
1. a container of an install deployment is the operator (`operator`), except a sidecar
   whose container name or repository says `proxy` (kube-rbac-proxy: `proxy`);
2. the CSV annotation `containerImage` is the operator;
3. otherwise the relatedImages name, or else the repository's last path segment:
   `router` → router, `bundle` → bundle, `registry` / `index` / `catalog` → catalog,
   `proxy` → proxy, `operator` / `manager` / `controller` → operator, anything else is
   an operand (what the operator runs for its users).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ROLES = ("operator", "operand", "router", "proxy", "bundle", "catalog")


def digest_of(reference: str) -> str:
    """`repo@sha256:…` → `sha256:…`; "" when the reference is a tag."""
    if "@" not in reference:
        return ""
    return reference.rsplit("@", 1)[1]


def repository_name(reference: str) -> str:
    """`quay.io/ns/memcached-operator:v1` or `…@sha256:…` → `memcached-operator`."""
    path = reference.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def role_from_name(name: str) -> str:
    """Rule 3 of the module docstring."""
    word = name.lower()
    for needles, role in (
        (("router",), "router"),
        (("bundle",), "bundle"),
        (("registry", "index", "catalog"), "catalog"),
        (("proxy",), "proxy"),
        (("operator", "manager", "controller"), "operator"),
    ):
        if any(n in word for n in needles):
            return role
    return "operand"


def _image(*, name: str, reference: str, role: str) -> dict[str, str]:
    return {
        "name": name[:253],
        "reference": reference[:500],
        "digest": digest_of(reference)[:100],
        "role": role,
    }


def images_from_csv(csv: Mapping[str, Any]) -> list[dict[str, str]]:
    """A whole CSV → [{name, reference, digest, role}], deployments' containers first,
    each reference once, in the CSV's order."""
    spec = csv.get("spec") or {}
    out: dict[str, dict[str, str]] = {}
    install = (spec.get("install") or {}).get("spec") or {}
    for deployment in install.get("deployments") or []:
        pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            reference = str(container.get("image") or "")
            if not reference or reference in out:
                continue
            name = str(container.get("name") or repository_name(reference))
            proxy = "proxy" in name.lower() or "proxy" in repository_name(reference).lower()
            out[reference] = _image(
                name=name, reference=reference, role="proxy" if proxy else "operator"
            )
    operator_image = str(
        ((csv.get("metadata") or {}).get("annotations") or {}).get("containerImage") or ""
    )
    for related in spec.get("relatedImages") or []:
        if not isinstance(related, Mapping):
            continue
        reference = str(related.get("image") or "")
        if not reference or reference in out:
            continue
        name = str(related.get("name") or repository_name(reference))
        role = "operator" if reference == operator_image else role_from_name(name)
        out[reference] = _image(name=name, reference=reference, role=role)
    return list(out.values())


def images_from_csv_description(desc: Mapping[str, Any]) -> list[dict[str, str]]:
    """A PackageManifest's `currentCSVDesc` → the same rows, named after the repository."""
    operator_image = str((desc.get("annotations") or {}).get("containerImage") or "")
    references: Iterable[Any] = desc.get("relatedImages") or []
    out: dict[str, dict[str, str]] = {}
    if operator_image:
        out[operator_image] = _image(
            name=repository_name(operator_image), reference=operator_image, role="operator"
        )
    for item in references:
        # packageserver serves strings; accept the CSV's {name, image} too.
        if isinstance(item, Mapping):
            reference, name = str(item.get("image") or ""), str(item.get("name") or "")
        else:
            reference, name = str(item or ""), ""
        if not reference or reference in out:
            continue
        name = name or repository_name(reference)
        out[reference] = _image(name=name, reference=reference, role=role_from_name(name))
    return list(out.values())
