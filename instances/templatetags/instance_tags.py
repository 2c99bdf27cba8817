"""Template tags of operand instances (the installation page's 'Operator instances' tab)."""

from django import template

from core.kube_age import age

from .. import memcached, schema
from ..selectors import entitlement_state, instances_of

register = template.Library()


@register.filter
def kube_age(created):
    """A pod's AGE column from its creationTimestamp, as `kubectl get pods` prints it."""
    return age(created)


def instances_tab_context(installation):
    instances = list(instances_of(installation=installation))
    active, ended = entitlement_state(tenant=installation.tenant, asset=installation.asset)
    return {
        "installation": installation,
        "instances": instances,
        # One entry per kind (whatever versions the CSV owns it in); cluster-scoped kinds are
        # listed without a Create button, with the reason.
        "apis": [
            {
                **kind,
                "cluster_scoped": schema.cluster_scoped(kind),
                "reason": schema.cluster_scoped_reason(kind["kind"]),
            }
            for kind in schema.owned_kinds(installation.csv_info)
        ],
        "memcached_kind": memcached.KIND,
        "has_memcached": memcached.find_api(installation.csv_info, memcached.KIND) is not None
        or not installation.csv_info,
        "installed": installation.is_serving,
        "entitlement_active": active is not None,
        "ended_entitlement": ended,
        "live": any(i.is_unfinished for i in instances),
    }


@register.inclusion_tag("instances/_installation_tab.html")
def installation_instances(installation):
    """The instances of one installation, with a create button per API its CSV owns."""
    return instances_tab_context(installation)


@register.filter
def bytes_human(value):
    """1536 → "1.5 KiB" (the monitoring tab's bytes / limit)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@register.filter
def percent(value):
    if value is None:
        return "-"
    return f"{100 * float(value):.1f}%"
