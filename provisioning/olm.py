"""Pure OLM knowledge: the manifests we apply and how to read what OLM reports back.

Nothing here talks to a cluster, so every rule is tested without one.
"""

from dataclasses import dataclass, field

from django.utils.dateparse import parse_datetime

from clusters.manifests import MANAGED_BY, MANAGED_BY_LABEL

INSTALLATION_LABEL = "marketplace.operators.io/installation-id"
OPERATORS_V1 = "operators.coreos.com/v1"
OPERATORS_V1ALPHA1 = "operators.coreos.com/v1alpha1"


def namespace_manifest(name):
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
    }


def operator_group_manifest(*, namespace):
    """An OperatorGroup that targets its own namespace (OwnNamespace install mode)."""
    return {
        "apiVersion": OPERATORS_V1,
        "kind": "OperatorGroup",
        "metadata": {
            "name": f"{namespace}-operators",
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
        },
        "spec": {"targetNamespaces": [namespace]},
    }


def subscription_manifest(
    *,
    installation_id,
    namespace,
    package,
    channel,
    source,
    source_namespace,
    approval,
    starting_csv="",
):
    spec = {
        "channel": channel,
        "name": package,
        "source": source,
        "sourceNamespace": source_namespace,
        "installPlanApproval": approval,
    }
    if starting_csv:
        spec["startingCSV"] = starting_csv
    return {
        "apiVersion": OPERATORS_V1ALPHA1,
        "kind": "Subscription",
        "metadata": {
            "name": package,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, INSTALLATION_LABEL: str(installation_id)},
        },
        "spec": spec,
    }


def _condition(obj, type_, since=None):
    """A true condition of that type, unless it predates `since` (our last change)."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") != type_ or condition.get("status") != "True":
            continue
        changed = parse_datetime(condition.get("lastTransitionTime") or "")
        if since is not None and changed is not None and changed < since.replace(microsecond=0):
            continue
        return condition
    return None


@dataclass
class Assessment:
    """What an installation is, according to the cluster."""

    status: str
    step: str
    message: str = ""
    installed_csv: str = ""
    current_csv: str = ""
    installed_version: str = ""
    pending_install_plan: str = ""
    pending_csvs: list = field(default_factory=list)
    csv_info: dict = field(default_factory=dict)


def csv_info(csv):
    """What the 详情 tab shows of a ClusterServiceVersion."""
    spec = (csv or {}).get("spec") or {}
    owned = (spec.get("customresourcedefinitions") or {}).get("owned") or []
    return {
        "name": (csv or {}).get("metadata", {}).get("name", ""),
        "display_name": spec.get("displayName", ""),
        "description": spec.get("description", ""),
        "provider": (spec.get("provider") or {}).get("name", ""),
        "version": spec.get("version", ""),
        "provided_apis": [
            {
                "name": crd.get("name", ""),
                "version": crd.get("version", ""),
                "kind": crd.get("kind", ""),
                "display_name": crd.get("displayName", ""),
                "description": crd.get("description", ""),
                # Labels, help and offered values of the create form (operand instances).
                "spec_descriptors": [
                    {
                        "path": d.get("path", ""),
                        "display_name": d.get("displayName", ""),
                        "description": d.get("description", ""),
                        "x_descriptors": list(d.get("x-descriptors") or []),
                    }
                    for d in crd.get("specDescriptors") or []
                ],
            }
            for crd in owned
        ],
        "alm_examples": ((csv or {}).get("metadata", {}).get("annotations") or {}).get(
            "alm-examples", ""
        ),
    }


def _csv_version(csv):
    return ((csv or {}).get("spec") or {}).get("version", "")


def assess(*, subscription, install_plans, csvs, since=None):
    """Subscription → InstallPlan → CSV, read the way OLM means them.

    `install_plans` and `csvs` are the objects in the subscription's namespace, by name;
    failure conditions older than `since` (when we last applied the Subscription) are
    stale: OLM has not looked at the new spec yet.
    """
    if subscription is None:
        return Assessment(status="subscribing", step="subscription", message="")
    status = subscription.get("status") or {}
    for failure in ("ResolutionFailed", "CatalogSourcesUnhealthy"):
        condition = _condition(subscription, failure, since)
        if condition:
            return Assessment(
                status="failed",
                step="subscription",
                message=f"{failure}: {condition.get('message') or condition.get('reason', '')}",
            )
    installed = status.get("installedCSV", "")
    current = status.get("currentCSV", "")
    plan_name = (status.get("installPlanRef") or {}).get("name") or (
        status.get("installplan") or {}
    ).get("name", "")
    plan = install_plans.get(plan_name) if plan_name else None

    installed_csv = csvs.get(installed) if installed else None
    if installed_csv is not None:
        phase = (installed_csv.get("status") or {}).get("phase", "")
        if phase == "Failed" and installed == current:
            csv_status = installed_csv.get("status") or {}
            return Assessment(
                status="failed",
                step="csv",
                message=f"{csv_status.get('reason', 'Failed')}: {csv_status.get('message', '')}",
                installed_csv=installed,
                current_csv=current,
            )
    pending_plan, pending_csvs = "", []
    if plan is not None:
        plan_phase = (plan.get("status") or {}).get("phase", "")
        plan_spec = plan.get("spec") or {}
        if plan_phase == "RequiresApproval" and not plan_spec.get("approved"):
            pending_plan = plan["metadata"]["name"]
            pending_csvs = list(plan_spec.get("clusterServiceVersionNames") or [])
        elif plan_phase == "Failed":
            conditions = (plan.get("status") or {}).get("conditions") or []
            message = next((c.get("message", "") for c in conditions if c.get("message")), "")
            return Assessment(
                status="failed", step="installplan", message=f"InstallPlan failed: {message}"
            )

    if (
        installed_csv is not None
        and (installed_csv.get("status") or {}).get("phase") == "Succeeded"
    ):
        # Installed; an upgrade may be waiting for approval or under way.
        return Assessment(
            status="installed",
            step="done",
            installed_csv=installed,
            current_csv=current,
            installed_version=_csv_version(installed_csv),
            pending_install_plan=pending_plan,
            pending_csvs=pending_csvs,
            csv_info=csv_info(installed_csv),
        )
    if pending_plan:
        return Assessment(
            status="requires_approval",
            step="installplan",
            current_csv=current,
            pending_install_plan=pending_plan,
            pending_csvs=pending_csvs,
        )
    target = csvs.get(current) if current else None
    if target is not None:
        csv_status = target.get("status") or {}
        phase = csv_status.get("phase", "")
        if phase == "Failed":
            return Assessment(
                status="failed",
                step="csv",
                message=f"{csv_status.get('reason', 'Failed')}: {csv_status.get('message', '')}",
                current_csv=current,
            )
        if phase == "Succeeded":
            return Assessment(
                status="installed",
                step="done",
                installed_csv=current,
                current_csv=current,
                installed_version=_csv_version(target),
                csv_info=csv_info(target),
            )
        return Assessment(status="installing", step="csv", current_csv=current)
    if plan is not None:
        return Assessment(status="installing", step="installplan", current_csv=current)
    return Assessment(status="subscribing", step="subscription", current_csv=current)
