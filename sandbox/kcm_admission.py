"""Registry defaults and validation of Job, PodDisruptionBudget, HorizontalPodAutoscaler,
Ingress and NetworkPolicy, as far as a client sees them (kcm.py runs their controllers).

Sources: pkg/apis/batch/v1/defaults.go and pkg/registry/batch/job/strategy.go (generated
selector and labels), pkg/apis/autoscaling/v2/defaults.go, pkg/apis/networking/v1/defaults.go,
and the matching pkg/apis/*/validation.
"""

from __future__ import annotations

from .errors import FieldError

JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def _pod_template_defaults(template_spec: dict) -> None:
    template_spec.setdefault("restartPolicy", "Always")
    template_spec.setdefault("dnsPolicy", "ClusterFirst")
    template_spec.setdefault("schedulerName", "default-scheduler")
    template_spec.setdefault("terminationGracePeriodSeconds", 30)
    template_spec.setdefault("securityContext", {})
    for c in (template_spec.get("initContainers") or []) + (template_spec.get("containers") or []):
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        image = c.get("image", "")
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("resources", {})


# -- Job ------------------------------------------------------------------------------------


def job(store, rt, obj, old):
    spec = obj.setdefault("spec", {})
    meta = obj["metadata"]
    template = spec.setdefault("template", {})
    if old is None:
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
            spec["parallelism"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        if spec.get("backoffLimitPerIndex") is None:
            spec.setdefault("backoffLimit", 6)
        spec.setdefault("suspend", False)
        # JobPodReplacementPolicy is beta (on) in 1.29.
        spec.setdefault(
            "podReplacementPolicy",
            "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed",
        )
        if not spec.get("manualSelector"):
            uid = meta["uid"]
            # Both the current and the legacy labels (strategy.go generateSelector).
            generated = {
                JOB_UID_LABEL: uid,
                JOB_NAME_LABEL: meta["name"],
                "controller-uid": uid,
                "job-name": meta["name"],
            }
            labels = (template.setdefault("metadata", {}).get("labels")) or {}
            template["metadata"]["labels"] = {**labels, **generated}
            spec["selector"] = {"matchLabels": {JOB_UID_LABEL: uid}}
        if not meta.get("labels") and (template.get("metadata") or {}).get("labels"):
            meta["labels"] = dict(template["metadata"]["labels"])
    _pod_template_defaults(template.setdefault("spec", {}))


def validate_job(store, rt, obj, old):
    errs = []
    spec = obj.get("spec") or {}
    template_spec = (spec.get("template") or {}).get("spec") or {}
    policy = template_spec.get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        errs.append(
            FieldError(
                "spec.template.spec.restartPolicy",
                "NotSupported",
                policy,
                'supported values: "OnFailure", "Never"',
            )
        )
    if not template_spec.get("containers"):
        errs.append(FieldError("spec.template.spec.containers", "Required"))
    for key in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            errs.append(
                FieldError(f"spec.{key}", "Invalid", value, "must be greater than or equal to 0")
            )
    if old is not None:
        old_spec = old.get("spec") or {}
        # A Job's pod template is immutable (what a suspended Job may change is not modelled).
        if old_spec.get("template") != spec.get("template"):
            errs.append(
                FieldError(
                    "spec.template",
                    "Invalid",
                    spec.get("template"),
                    "field is immutable",
                )
            )
        if old_spec.get("selector") != spec.get("selector"):
            errs.append(
                FieldError("spec.selector", "Invalid", spec.get("selector"), "field is immutable")
            )
    return errs


# -- PodDisruptionBudget ----------------------------------------------------------------------


def validate_pdb(store, rt, obj, old):
    spec = obj.get("spec") or {}
    errs = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(
            FieldError(
                "spec",
                "Invalid",
                spec,
                "minAvailable and maxUnavailable cannot be both set",
            )
        )
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if isinstance(value, int) and value < 0:
            errs.append(
                FieldError(f"spec.{key}", "Invalid", value, "must be greater than or equal to 0")
            )
        if isinstance(value, str) and not (value.endswith("%") and value[:-1].isdigit()):
            errs.append(
                FieldError(f"spec.{key}", "Invalid", value, "a valid percent string must be")
            )
    return errs


# -- HorizontalPodAutoscaler -----------------------------------------------------------------


def hpa(store, rt, obj, old):
    spec = obj.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    # autoscaling/v2 defaults.go SetDefaults_HorizontalPodAutoscalerBehavior.
    behavior = spec.setdefault("behavior", {})
    up = behavior.setdefault("scaleUp", {})
    up.setdefault("stabilizationWindowSeconds", 0)
    up.setdefault("selectPolicy", "Max")
    up.setdefault(
        "policies",
        [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    )
    down = behavior.setdefault("scaleDown", {})
    down.setdefault("stabilizationWindowSeconds", 300)
    down.setdefault("selectPolicy", "Max")
    down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def validate_hpa(store, rt, obj, old):
    spec = obj.get("spec") or {}
    errs = []
    low, high = spec.get("minReplicas"), spec.get("maxReplicas")
    if not isinstance(high, int) or high < 1:
        errs.append(
            FieldError("spec.maxReplicas", "Invalid", high, "must be greater than or equal to 1")
        )
    elif isinstance(low, int) and low > high:
        errs.append(
            FieldError(
                "spec.maxReplicas",
                "Invalid",
                high,
                "must be greater than or equal to `minReplicas`",
            )
        )
    target = spec.get("scaleTargetRef") or {}
    for key in ("kind", "name"):
        if not target.get(key):
            errs.append(FieldError(f"spec.scaleTargetRef.{key}", "Required"))
    return errs


# -- Ingress / NetworkPolicy -----------------------------------------------------------------


def network_policy(store, rt, obj, old):
    spec = obj.setdefault("spec", {})
    # networking/v1 defaults.go: a port's protocol is TCP; policyTypes from the rules.
    for rules in (spec.get("ingress") or [], spec.get("egress") or []):
        for rule in rules:
            for port in rule.get("ports") or []:
                port.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def validate_ingress(store, rt, obj, old):
    spec = obj.get("spec") or {}
    errs = []
    for i, rule in enumerate(spec.get("rules") or []):
        for j, path in enumerate((rule.get("http") or {}).get("paths") or []):
            where = f"spec.rules[{i}].http.paths[{j}]"
            if path.get("pathType") not in ("Exact", "Prefix", "ImplementationSpecific"):
                errs.append(
                    FieldError(
                        f"{where}.pathType",
                        "NotSupported",
                        path.get("pathType"),
                        supported=["Exact", "ImplementationSpecific", "Prefix"],
                    )
                )
            if not path.get("backend"):
                errs.append(FieldError(f"{where}.backend", "Required"))
    if not spec.get("rules") and not spec.get("defaultBackend"):
        errs.append(
            FieldError(
                "spec", "Invalid", spec, "either `defaultBackend` or `rules` must be specified"
            )
        )
    return errs


MUTATORS = {
    ("batch", "Job"): job,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa,
    ("networking.k8s.io", "NetworkPolicy"): network_policy,
}

VALIDATORS = {
    ("batch", "Job"): validate_job,
    ("policy", "PodDisruptionBudget"): validate_pdb,
    ("autoscaling", "HorizontalPodAutoscaler"): validate_hpa,
    ("networking.k8s.io", "Ingress"): validate_ingress,
}
