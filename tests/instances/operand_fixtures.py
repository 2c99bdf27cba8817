"""csv_info of real-shaped operators, as provisioning/olm.py `csv_info()` records it, with the
owned CRDs as the cluster serves them (`crds`, apiextensions v1).

Modelled on published bundles (community-operators): cert-manager (Certificate and Issuer
namespaced, ClusterIssuer cluster-scoped; its alm-examples carry `status` and a
namespace, as some published ones do), prometheus-operator (Prometheus with
specDescriptors; AlertmanagerConfig owned in v1alpha1 (storage) and v1beta1, where
`muteTimeIntervals` became `timeIntervals`), an etcd operator whose EtcdCluster has no
example, and grafana-operator's admin password.
"""

import json

UI = "urn:alm:descriptor:com.tectonic.ui:"


def _descriptor(path, name, description="", *xs):
    return {
        "path": path,
        "display_name": name,
        "description": description,
        "x_descriptors": list(xs),
    }


ISSUER_SPEC = {
    "type": "object",
    "description": "Desired state of the Issuer resource.",
    "properties": {
        "selfSigned": {
            "type": "object",
            "description": "SelfSigned configures this issuer to 'self sign' certificates.",
            "properties": {
                "crlDistributionPoints": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The CRL distribution points is an X.509 v3 certificate extension.",
                }
            },
        },
        "ca": {
            "type": "object",
            "required": ["secretName"],
            "properties": {
                "secretName": {
                    "type": "string",
                    "description": "SecretName is the name of the secret used to sign Certificates.",
                }
            },
        },
    },
}

CERTIFICATE_SPEC = {
    "type": "object",
    "required": ["issuerRef", "secretName"],
    "properties": {
        "commonName": {"type": "string", "maxLength": 64},
        "dnsNames": {"type": "array", "items": {"type": "string"}},
        "duration": {"type": "string"},
        "renewBefore": {"type": "string"},
        "isCA": {"type": "boolean"},
        "secretName": {
            "type": "string",
            "description": "Name of the Secret resource that will be automatically created.",
        },
        "revisionHistoryLimit": {"type": "integer", "format": "int32"},
        "issuerRef": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "group": {"type": "string"},
                "kind": {"type": "string"},
                "name": {"type": "string"},
            },
        },
        "privateKey": {
            "type": "object",
            "properties": {
                "algorithm": {"type": "string", "enum": ["RSA", "ECDSA", "Ed25519"]},
                "encoding": {"type": "string", "enum": ["PKCS1", "PKCS8"]},
                "rotationPolicy": {"type": "string", "enum": ["Never", "Always"]},
                "size": {"type": "integer"},
            },
        },
        "secretTemplate": {
            "type": "object",
            "properties": {
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}


def _root(spec, status=True):
    properties = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": spec,
    }
    if status:
        properties["status"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"type": "object", "properties": properties}


def _crd(group, kind, plural, scope, versions):
    return {
        "group": group,
        "scope": scope,
        "kind": kind,
        "plural": plural,
        "versions": [
            {"name": name, "served": True, "storage": storage, "schema": schema}
            for name, storage, schema in versions
        ],
    }


CERT_MANAGER_EXAMPLES = [
    {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {
            "name": "selfsigned-issuer",
            "namespace": "cert-manager",
            "finalizers": ["cert-manager.io/finalizer"],
            "uid": "6f1c0a8e-3b0d-4a52-9d8a-2b9c3f4d5e6a",
            "resourceVersion": "48213",
            "creationTimestamp": "2023-04-11T09:21:44Z",
            "generation": 1,
        },
        "spec": {"selfSigned": {}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    },
    {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "example-com", "namespace": "cert-manager"},
        "spec": {
            "secretName": "example-com-tls",
            "dnsNames": ["example.com", "www.example.com"],
            "issuerRef": {"name": "selfsigned-issuer", "kind": "Issuer"},
            "privateKey": {"algorithm": "ECDSA", "size": 256},
        },
        "status": {},
    },
    {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned-cluster-issuer"},
        "spec": {"selfSigned": {}},
    },
]

CERT_MANAGER = {
    "name": "cert-manager.v1.11.0",
    "display_name": "cert-manager",
    "provided_apis": [
        {
            "name": "certificates.cert-manager.io",
            "version": "v1",
            "kind": "Certificate",
            "display_name": "Certificate",
            "description": "A Certificate resource should be created to ensure an up to date and signed X.509 certificate is stored in the Kubernetes Secret resource named in spec.secretName.",
            "spec_descriptors": [],
        },
        {
            "name": "issuers.cert-manager.io",
            "version": "v1",
            "kind": "Issuer",
            "display_name": "Issuer",
            "description": "An Issuer represents a certificate issuing authority.",
            "spec_descriptors": [],
        },
        {
            "name": "clusterissuers.cert-manager.io",
            "version": "v1",
            "kind": "ClusterIssuer",
            "display_name": "ClusterIssuer",
            "description": "A ClusterIssuer represents a certificate issuing authority which can be referenced as part of issuerRef fields. It is similar to an Issuer, however it is cluster-scoped.",
            "spec_descriptors": [],
        },
    ],
    "alm_examples": json.dumps(CERT_MANAGER_EXAMPLES),
    "crds": {
        "certificates.cert-manager.io": _crd(
            "cert-manager.io",
            "Certificate",
            "certificates",
            "Namespaced",
            [("v1", True, _root(CERTIFICATE_SPEC))],
        ),
        "issuers.cert-manager.io": _crd(
            "cert-manager.io", "Issuer", "issuers", "Namespaced", [("v1", True, _root(ISSUER_SPEC))]
        ),
        "clusterissuers.cert-manager.io": _crd(
            "cert-manager.io",
            "ClusterIssuer",
            "clusterissuers",
            "Cluster",
            [("v1", True, _root(ISSUER_SPEC))],
        ),
    },
}

RESOURCES = {
    "type": "object",
    "properties": {
        "limits": {"type": "object", "additionalProperties": {"x-kubernetes-int-or-string": True}},
        "requests": {
            "type": "object",
            "additionalProperties": {"x-kubernetes-int-or-string": True},
        },
    },
}
LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array", "items": {"type": "object"}},
    },
}
PROMETHEUS_SPEC = {
    "type": "object",
    "properties": {
        "replicas": {"type": "integer", "format": "int32"},
        "retention": {
            "type": "string",
            "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
        },
        "logLevel": {"type": "string", "enum": ["", "debug", "info", "warn", "error"]},
        "paused": {"type": "boolean"},
        "listenLocal": {"type": "boolean"},
        "externalUrl": {"type": "string"},
        "serviceAccountName": {"type": "string"},
        "resources": RESOURCES,
        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
        "serviceMonitorSelector": LABEL_SELECTOR,
        "affinity": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "remoteWrite": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string"}},
            },
        },
        "shards": {"type": "integer", "minimum": 1, "maximum": 100},
        "scrapeInterval": {"type": "string", "default": "30s"},
    },
}
ROUTE = {
    "type": "object",
    "properties": {
        "receiver": {"type": "string"},
        "groupBy": {"type": "array", "items": {"type": "string"}},
    },
}
RECEIVERS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}},
    },
}
ALERTMANAGER_CONFIG_V1ALPHA1 = {
    "type": "object",
    "properties": {
        "route": {
            "type": "object",
            "properties": {
                "receiver": {"type": "string"},
                "groupBy": {"type": "array", "items": {"type": "string"}},
            },
        },
        "receivers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1}},
            },
        },
        "muteTimeIntervals": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
}
ALERTMANAGER_CONFIG_V1BETA1 = {
    "type": "object",
    "properties": {
        "route": ROUTE,
        "receivers": RECEIVERS,
        "timeIntervals": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
}
PROMETHEUS_DESCRIPTORS = [
    _descriptor(
        "replicas",
        "Replicas",
        "Number of instances to deploy for a Prometheus deployment.",
        f"{UI}podCount",
    ),
    _descriptor(
        "retention", "Retention", "Time duration Prometheus shall retain data for.", f"{UI}text"
    ),
    _descriptor(
        "logLevel",
        "Log level",
        "Log level for Prometheus to be configured with.",
        *(f"{UI}select:{v}" for v in ("debug", "info", "warn", "error")),
    ),
    _descriptor(
        "paused",
        "Paused",
        "When a Prometheus deployment is paused, no actions except for deletion will be performed on the underlying objects.",
        f"{UI}booleanSwitch",
    ),
    _descriptor(
        "resources",
        "Resource Requirements",
        "Define resources requests and limits for single Pods.",
        f"{UI}resourceRequirements",
    ),
    _descriptor(
        "nodeSelector",
        "Node selector",
        "Define which Nodes the Pods are scheduled on.",
        f"{UI}selector:core:v1:Node",
    ),
    _descriptor(
        "serviceMonitorSelector",
        "Service Monitor Selector",
        "ServiceMonitors to be selected for target discovery.",
        f"{UI}selector:monitoring.coreos.com:v1:ServiceMonitor",
    ),
    _descriptor(
        "affinity",
        "Affinity",
        "If specified, the pod's scheduling constraints.",
        f"{UI}nodeAffinity",
    ),
    _descriptor(
        "externalUrl",
        "External URL",
        "The external URL the Prometheus instances will be available under.",
        f"{UI}advanced",
        f"{UI}text",
    ),
    _descriptor("listenLocal", "Listen local", "", f"{UI}hidden"),
]
PROMETHEUS = {
    "name": "prometheusoperator.0.47.0",
    "display_name": "Prometheus Operator",
    "provided_apis": [
        {
            "name": "prometheuses.monitoring.coreos.com",
            "version": "v1",
            "kind": "Prometheus",
            "display_name": "Prometheus",
            "description": "A running Prometheus instance",
            "spec_descriptors": PROMETHEUS_DESCRIPTORS,
        },
        {
            "name": "alertmanagerconfigs.monitoring.coreos.com",
            "version": "v1alpha1",
            "kind": "AlertmanagerConfig",
            "display_name": "Alertmanager Config",
            "description": "Configures subsections of Alertmanager configuration specific to each namespace",
            "spec_descriptors": [],
        },
        {
            "name": "alertmanagerconfigs.monitoring.coreos.com",
            "version": "v1beta1",
            "kind": "AlertmanagerConfig",
            "display_name": "Alertmanager Config",
            "description": "Configures subsections of Alertmanager configuration specific to each namespace",
            "spec_descriptors": [],
        },
    ],
    "alm_examples": json.dumps(
        [
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "Prometheus",
                "metadata": {"name": "example", "labels": {"prometheus": "k8s"}},
                "spec": {
                    "replicas": 2,
                    "serviceAccountName": "prometheus-k8s",
                    "serviceMonitorSelector": {"matchLabels": {"team": "frontend"}},
                    "resources": {"requests": {"memory": "400Mi"}},
                    "listenLocal": False,
                },
            },
            {
                "apiVersion": "monitoring.coreos.com/v1alpha1",
                "kind": "AlertmanagerConfig",
                "metadata": {"name": "example"},
                "spec": {"route": {"receiver": "webhook"}, "receivers": [{"name": "webhook"}]},
            },
        ]
    ),
    "crds": {
        "prometheuses.monitoring.coreos.com": _crd(
            "monitoring.coreos.com",
            "Prometheus",
            "prometheuses",
            "Namespaced",
            [("v1", True, _root(PROMETHEUS_SPEC))],
        ),
        "alertmanagerconfigs.monitoring.coreos.com": _crd(
            "monitoring.coreos.com",
            "AlertmanagerConfig",
            "alertmanagerconfigs",
            "Namespaced",
            [
                ("v1alpha1", True, _root(ALERTMANAGER_CONFIG_V1ALPHA1, status=False)),
                ("v1beta1", False, _root(ALERTMANAGER_CONFIG_V1BETA1, status=False)),
            ],
        ),
    },
}

ETCD_SPEC = {
    "type": "object",
    "required": ["size"],
    "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 9, "default": 3},
        "version": {"type": "string", "default": "3.2.13"},
        "repository": {"type": "string", "pattern": "^[a-z0-9./-]+$"},
        "paused": {"type": "boolean"},
        "pod": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "resources": RESOURCES,
                "antiAffinity": {"type": "boolean"},
                "busyboxImage": {"type": "string"},
            },
        },
    },
}
ETCD = {
    "name": "etcdoperator.v0.9.4",
    "display_name": "etcd",
    "provided_apis": [
        {
            "name": "etcdclusters.etcd.database.coreos.com",
            "version": "v1beta2",
            "kind": "EtcdCluster",
            "display_name": "etcd Cluster",
            "description": "Represents a cluster of etcd nodes.",
            "spec_descriptors": [
                _descriptor(
                    "size",
                    "Size",
                    "The desired number of member Pods for the etcd cluster.",
                    f"{UI}podCount",
                ),
                _descriptor(
                    "pod.resources",
                    "Resource Requirements",
                    "Limits describes the minimum/maximum amount of compute resources required/allowed",
                    f"{UI}resourceRequirements",
                ),
            ],
        },
    ],
    "alm_examples": "[]",
    "crds": {
        "etcdclusters.etcd.database.coreos.com": _crd(
            "etcd.database.coreos.com",
            "EtcdCluster",
            "etcdclusters",
            "Namespaced",
            [("v1beta2", True, _root(ETCD_SPEC))],
        ),
    },
}

GRAFANA_SPEC = {
    "type": "object",
    "properties": {
        "config": {
            "type": "object",
            "properties": {
                "security": {
                    "type": "object",
                    "properties": {
                        "admin_user": {"type": "string"},
                        "admin_password": {"type": "string"},
                    },
                }
            },
        },
        "ingress": {"type": "object", "properties": {"enabled": {"type": "boolean"}}},
    },
}
GRAFANA = {
    "name": "grafana-operator.v4.10.0",
    "display_name": "Grafana Operator",
    "provided_apis": [
        {
            "name": "grafanas.integreatly.org",
            "version": "v1alpha1",
            "kind": "Grafana",
            "display_name": "Grafana",
            "description": "Represents a Grafana instance",
            "spec_descriptors": [
                _descriptor("config.security.admin_user", "Admin user", "", f"{UI}text"),
                _descriptor(
                    "config.security.admin_password", "Admin password", "", f"{UI}password"
                ),
                _descriptor("ingress.enabled", "Expose with an Ingress", "", f"{UI}checkbox"),
            ],
        }
    ],
    "alm_examples": json.dumps(
        [
            {
                "apiVersion": "integreatly.org/v1alpha1",
                "kind": "Grafana",
                "metadata": {"name": "example-grafana"},
                "spec": {
                    "config": {"security": {"admin_user": "root", "admin_password": "secret"}}
                },
            }
        ]
    ),
    "crds": {
        "grafanas.integreatly.org": _crd(
            "integreatly.org",
            "Grafana",
            "grafanas",
            "Namespaced",
            [("v1alpha1", True, _root(GRAFANA_SPEC))],
        )
    },
}


def without_crds(csv_info):
    """The same CSV read before the platform recorded its CRDs (or an older record)."""
    return {k: v for k, v in csv_info.items() if k != "crds"}
