"""Pure OLM knowledge: the manifests we apply and how to read what OLM reports back.

Nothing here talks to a cluster, so every rule is tested without one. The reading follows
what OLM v0 really writes (operator-framework/operator-lifecycle-manager and
operator-framework/api); each rule names the source it follows, and
tests/provisioning/test_olm.py feeds it statuses shaped exactly as OLM writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_noop

from clusters.manifests import MANAGED_BY, MANAGED_BY_LABEL
from core.i18n import Text

INSTALLATION_LABEL = "marketplace.operators.io/installation-id"
OPERATORS_V1 = "operators.coreos.com/v1"
OPERATORS_V1ALPHA1 = "operators.coreos.com/v1alpha1"


def namespace_manifest(name):
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
    }


def operator_group_manifest(*, namespace, all_namespaces=False):
    """An OperatorGroup that targets its own namespace (OwnNamespace install mode), or, for
    a cluster-wide install, every namespace: no targetNamespaces and no selector
    (operator-framework/api pkg/operators/v1/operatorgroup_types.go)."""
    return {
        "apiVersion": OPERATORS_V1,
        "kind": "OperatorGroup",
        "metadata": {
            "name": "global-operators" if all_namespaces else f"{namespace}-operators",
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
        },
        "spec": {} if all_namespaces else {"targetNamespaces": [namespace]},
    }


def watches_all_namespaces(group: dict[str, Any]) -> bool:
    """An OperatorGroup selecting every namespace: neither targetNamespaces nor a selector
    (OLM then writes status.namespaces [""])."""
    spec = group.get("spec") or {}
    return not (spec.get("targetNamespaces") or spec.get("selector"))


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


Obj = dict[str, Any]

# How long after we apply a Subscription a failure OLM reports may still be the previous
# spec's: ResolutionFailed and the unpack conditions carry no lastTransitionTime (OLM
# pkg/controller/operators/catalog/operator.go setSubsCond), so only time tells.
SETTLE_GRACE = timedelta(seconds=30)
COPIED_FROM_LABEL = "olm.copiedFrom"


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
    pending_csvs: list[str] = field(default_factory=list)
    csv_info: dict[str, Any] = field(default_factory=dict)
    # Worth telling the user, not a failure: deprecations, another catalog unhealthy, a
    # namespace-wide manual approval.
    notes: list[str] = field(default_factory=list)
    # The message and the notes untranslated (core.i18n.Text), so each reader reads our
    # sentence in their language; `message` and `notes` are their English. A message that
    # is only the cluster's own words has no text.
    message_text: Text | None = None
    note_texts: list[Text] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.message_text is not None and not self.message:
            self.message = self.message_text.english()
        if self.note_texts and not self.notes:
            self.notes = [text.english() for text in self.note_texts]


def crd_summary(crd: dict[str, Any]) -> dict[str, Any]:
    """What the operand forms need of a CRD as served (apiextensions.k8s.io/v1): its scope
    (cluster-scoped kinds are refused for tenants) and each version's schema."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    return {
        "group": spec.get("group", ""),
        "scope": spec.get("scope", "Namespaced"),
        "kind": names.get("kind", ""),
        "plural": names.get("plural", ""),
        "versions": [
            {
                "name": v.get("name", ""),
                "served": bool(v.get("served")),
                "storage": bool(v.get("storage")),
                "deprecated": bool(v.get("deprecated")),
                "schema": (v.get("schema") or {}).get("openAPIV3Schema"),
            }
            for v in spec.get("versions") or []
        ],
    }


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


def _conditions(obj: Obj | None) -> dict[str, Obj]:
    """The conditions OLM set to True, by type (False ones say "all is well")."""
    return {
        c.get("type", ""): c
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }


def _is_copy(csv: Obj) -> bool:
    """A copied CSV (AllNamespaces / MultiNamespace operators): the operator runs elsewhere.
    operator-framework/api pkg/operators/v1alpha1/clusterserviceversion.go IsCopied."""
    labels = (csv.get("metadata") or {}).get("labels") or {}
    return COPIED_FROM_LABEL in labels or (csv.get("status") or {}).get("reason") == "Copied"


def _phase(csv: Obj | None) -> str:
    return ((csv or {}).get("status") or {}).get("phase", "")


def _csv_problem(csv: Obj) -> str:
    status = csv.get("status") or {}
    return f"{status.get('reason') or 'Failed'}: {status.get('message') or ''}".strip()


def _settling(
    since: datetime | None, now: datetime | None, condition: Obj, written: str = ""
) -> bool:
    """A failure that may predate our last apply: OLM has not looked at the new spec yet.

    With a lastTransitionTime (catalog health, InstallPlan conditions) the time decides.
    Without one (ResolutionFailed, BundleUnpack*): the Subscription's `status.lastUpdated`,
    which catalog-operator sets whenever it sets or removes a condition that changed
    (pkg/controller/operators/catalog/operator.go setSubsCond / removeSubsCond), written at
    or after our apply says OLM has seen it; else a grace period after our apply decides
    (an identical failure leaves lastUpdated as it was)."""
    if since is None:
        return False
    floor = since.replace(microsecond=0)
    changed = parse_datetime(condition.get("lastTransitionTime") or "")
    if changed is not None:
        return changed < floor
    updated = parse_datetime(written or "")
    if updated is not None and updated >= floor:
        return False
    return now is not None and now - since < SETTLE_GRACE


def _notes(
    subscription: Obj, conditions: dict[str, Obj], *, approval: str, namespace_manual: bool
) -> list[Text]:
    """What to tell the user that does not stop the operator."""
    notes = []
    deprecated = conditions.get("Deprecated")
    if deprecated and deprecated.get("message"):
        # olm subscription/reconciler.go updateDeprecatedStatus: no reason, one roll-up.
        notes.append(Text(gettext_noop("Deprecated: %(message)s"), message=deprecated["message"]))
    unhealthy = [
        entry["catalogSourceRef"]
        for entry in (subscription.get("status") or {}).get("catalogHealth") or []
        if not entry.get("healthy") and entry.get("catalogSourceRef")
    ]
    spec = subscription.get("spec") or {}
    targeted = (spec.get("sourceNamespace"), spec.get("source"))
    others = [r for r in unhealthy if (r.get("namespace"), r.get("name")) != targeted]
    if others:
        names = ", ".join(f"{r.get('namespace')}/{r.get('name')}" for r in others)
        notes.append(
            Text(
                gettext_noop(
                    "Another catalog in scope is unhealthy (%(catalogs)s): OLM cannot resolve "
                    "new operators in this namespace until it recovers."
                ),
                catalogs=names,
            )
        )
    if namespace_manual and approval != "Manual":
        # olm catalog/operator.go: any Manual subscription in the namespace makes every
        # generated InstallPlan Manual.
        notes.append(
            Text(
                gettext_noop(
                    "Another operator in this namespace uses manual approval, so OLM asks "
                    "approval for every install plan here, this one's included."
                )
            )
        )
    return notes


def _pending_approval(plan: Obj | None) -> tuple[str, list[str]]:
    if plan is None:
        return "", []
    spec = plan.get("spec") or {}
    if _phase(plan) == "RequiresApproval" and not spec.get("approved"):
        return plan["metadata"]["name"], list(spec.get("clusterServiceVersionNames") or [])
    return "", []


def _plan_failure(plan: Obj | None, conditions: dict[str, Obj]) -> str:
    """InstallPlan failed (catalog/subscription/state.go CheckInstallPlanStatus): the
    reason and message of its Installed=False condition, or the IP's own message."""
    failed = conditions.get("InstallPlanFailed")
    if failed is not None:
        return f"{failed.get('reason') or 'InstallPlanFailed'}: {failed.get('message', '')}"
    if plan is not None and _phase(plan) == "Failed":
        status = plan.get("status") or {}
        installed: Obj = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Installed"), {}
        )
        reason = installed.get("reason") or "InstallPlanFailed"
        return f"{reason}: {installed.get('message') or status.get('message') or ''}".strip()
    return ""


def install_plan_matters(subscription: Obj | None, csvs: dict[str, Obj]) -> bool:
    """Whether `assess` needs the Subscription's InstallPlan, so a sync lists InstallPlans
    (each carries every manifest of its bundle) only in the namespaces where one matters.

    It does not once OLM says the operator is at the latest CSV it knows and that CSV
    succeeded: the Subscription's `state` is `AtLatestKnown` only when its current CSV
    exists (catalog/operator.go ensureSubscriptionCSVState), installed and current are the
    same, no InstallPlan condition is raised (subscription/reconciler.go sets
    InstallPlanPending / InstallPlanFailed / InstallPlanMissing while one is in play), and
    the CSV is `Succeeded`: `assess` then reports it installed, and the plan it executed
    is Complete, neither pending nor failed.
    """
    if subscription is None:
        return False
    status = subscription.get("status") or {}
    installed = status.get("installedCSV", "")
    if (
        status.get("state") != "AtLatestKnown"
        or not installed
        or installed != status.get("currentCSV", "")
    ):
        return True
    conditions = _conditions(subscription)
    if {"InstallPlanPending", "InstallPlanFailed", "InstallPlanMissing"} & set(conditions):
        return True
    csv = csvs.get(installed)
    return csv is None or _is_copy(csv) or _phase(csv) != "Succeeded"


def assess(
    *,
    subscription: Obj | None,
    install_plans: dict[str, Obj],
    csvs: dict[str, Obj],
    since: datetime | None = None,
    now: datetime | None = None,
    namespace_manual: bool = False,
) -> Assessment:
    """Subscription → InstallPlan → CSV, read the way OLM means them; the one place that
    turns OLM's statuses into ours and a message a person understands.

    `install_plans` and `csvs` are the objects in the subscription's namespace by name
    (copied CSVs are ignored); `since` is when we last applied the Subscription; `now`
    is the sync's time; `namespace_manual` says whether any Subscription in the namespace
    asks for manual approval. The CSV is read first: an operator whose CSV succeeded is
    installed whatever else OLM says about the namespace.
    """
    if subscription is None:
        return Assessment(status="subscribing", step="subscription")
    status = subscription.get("status") or {}
    written = str(status.get("lastUpdated") or "")
    spec = subscription.get("spec") or {}
    conditions = _conditions(subscription)
    notes = _notes(
        subscription,
        conditions,
        approval=spec.get("installPlanApproval", ""),
        namespace_manual=namespace_manual,
    )
    own = {name: csv for name, csv in csvs.items() if not _is_copy(csv)}
    installed = status.get("installedCSV", "")
    current = status.get("currentCSV", "")
    plan_name = (status.get("installPlanRef") or {}).get("name") or (
        status.get("installplan") or {}
    ).get("name", "")
    plan = install_plans.get(plan_name) if plan_name else None
    pending_plan, pending_csvs = _pending_approval(plan)

    installed_csv = own.get(installed) if installed else None
    if installed_csv is not None and _phase(installed_csv) == "Succeeded":
        # Installed; an upgrade may be waiting for approval (installedCSV stays the old
        # one until the new CSV object exists: catalog/operator.go ensureSubscriptionCSVState).
        return Assessment(
            status="installed",
            step="done",
            installed_csv=installed,
            current_csv=current,
            installed_version=_csv_version(installed_csv),
            pending_install_plan=pending_plan,
            pending_csvs=pending_csvs,
            csv_info=csv_info(installed_csv),
            note_texts=notes,
        )
    if installed_csv is not None:
        # installedCSV moves to the new CSV as soon as it exists, before it succeeds; the
        # CSV it replaces keeps serving (phase Replacing) until then (olm/operator.go).
        replaces = (installed_csv.get("spec") or {}).get("replaces", "")
        previous = own.get(replaces) if replaces else None
        if previous is not None and _phase(previous) in ("Replacing", "Succeeded"):
            common = {
                "installed_csv": replaces,
                "current_csv": current,
                "installed_version": _csv_version(previous),
                "csv_info": csv_info(previous),
                "note_texts": notes,
            }
            if _phase(installed_csv) == "Failed":
                return Assessment(
                    status="failed",
                    step="csv",
                    message_text=Text(
                        gettext_noop(
                            "The upgrade to %(new)s failed (%(problem)s); %(old)s still serves."
                        ),
                        new=installed,
                        problem=_csv_problem(installed_csv),
                        old=replaces,
                    ),
                    **common,
                )
            message = ((installed_csv.get("status") or {}).get("message")) or ""
            return Assessment(
                status="upgrading",
                step="csv",
                message_text=Text(
                    gettext_noop("Upgrading from %(old)s to %(new)s. %(detail)s")
                    if message
                    else gettext_noop("Upgrading from %(old)s to %(new)s."),
                    old=replaces,
                    new=installed,
                    detail=message,
                ),
                **common,
            )

    namespace = (subscription.get("metadata") or {}).get("namespace", "")
    unpack_failed = conditions.get("BundleUnpackFailed")
    if unpack_failed is not None and not _settling(since, now, unpack_failed, written):
        return Assessment(
            status="failed",
            step="installplan",
            message_text=Text(
                gettext_noop("The operator's bundle could not be unpacked: %(message)s"),
                message=unpack_failed.get("message", ""),
            ),
            current_csv=current,
            note_texts=notes,
        )
    plan_problem = _plan_failure(plan, conditions)
    if plan_problem:
        return Assessment(
            status="failed",
            step="installplan",
            message_text=Text(
                gettext_noop("InstallPlan %(plan)s failed: %(problem)s"),
                plan=plan_name,
                problem=plan_problem,
            ),
            current_csv=current,
            note_texts=notes,
        )
    unhealthy = conditions.get("CatalogSourcesUnhealthy")
    if (
        unhealthy is not None
        and (unhealthy.get("message") or "").startswith("targeted catalogsource")
        and not _settling(since, now, unhealthy, written)
    ):
        return Assessment(
            status="failed",
            step="subscription",
            message_text=Text(
                gettext_noop("The catalog this operator comes from is not serving: %(message)s."),
                message=unhealthy["message"],
            ),
            current_csv=current,
            note_texts=notes,
        )
    resolution = conditions.get("ResolutionFailed")
    if resolution is not None:
        explained: str | Text = (
            Text(
                gettext_noop(
                    "OLM could not resolve the operators of namespace %(namespace)s (it "
                    "resolves them together): %(message)s"
                ),
                namespace=namespace,
                message=resolution.get("message", ""),
            )
            if namespace
            else f"ResolutionFailed: {resolution.get('message', '')}"
        )
        if not _settling(since, now, resolution, written):
            return Assessment(
                status="failed",
                step="subscription",
                message=explained if isinstance(explained, str) else "",
                message_text=explained if isinstance(explained, Text) else None,
                current_csv=current,
                note_texts=notes,
            )
        return Assessment(
            status="subscribing", step="subscription", current_csv=current, note_texts=notes
        )
    if pending_plan:
        return Assessment(
            status="requires_approval",
            step="installplan",
            current_csv=current,
            pending_install_plan=pending_plan,
            pending_csvs=pending_csvs,
            note_texts=notes,
        )
    target = own.get(current) if current else None
    if target is not None:
        phase = _phase(target)
        if phase == "Failed":
            return Assessment(
                status="failed",
                step="csv",
                message=_csv_problem(target),
                current_csv=current,
                note_texts=notes,
            )
        if phase == "Succeeded":
            return Assessment(
                status="installed",
                step="done",
                installed_csv=current,
                current_csv=current,
                installed_version=_csv_version(target),
                csv_info=csv_info(target),
                note_texts=notes,
            )
        message = (target.get("status") or {}).get("message") or ""
        return Assessment(
            status="installing", step="csv", message=message, current_csv=current, note_texts=notes
        )
    unpacking = conditions.get("BundleUnpacking")
    if unpacking is not None:
        return Assessment(
            status="subscribing",
            step="installplan",
            message=unpacking.get("message") or "",
            message_text=None
            if unpacking.get("message")
            else Text(gettext_noop("Unpacking the operator's bundle.")),
            current_csv=current,
            note_texts=notes,
        )
    if plan is not None:
        return Assessment(
            status="installing", step="installplan", current_csv=current, note_texts=notes
        )
    return Assessment(
        status="subscribing", step="subscription", current_csv=current, note_texts=notes
    )
