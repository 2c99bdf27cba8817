"""The MemcachedCluster rules (provisioning/memcached.py): no cluster, no database."""

from decimal import Decimal

import pytest
import yaml

from instances import memcached
from instances.forms import ManifestForm, MemcachedForm, initial_from_manifest

from .conftest import cr

CSV_INFO = {
    "provided_apis": [
        {
            "name": "memcachedclusters.daas.tenxcloud.com",
            "version": "v1",
            "kind": "MemcachedCluster",
            "display_name": "Memcached Cluster",
            "spec_descriptors": [
                {
                    "path": "replicas",
                    "display_name": "Replicas",
                    "description": "Number of memcached pods in the cluster.",
                    "x_descriptors": ["urn:alm:descriptor:com.tectonic.ui:podCount"],
                },
                {
                    "path": "version",
                    "display_name": "Memcached Version",
                    "description": "Memcached image version run by the cluster.",
                    "x_descriptors": [
                        "urn:alm:descriptor:com.tectonic.ui:select:v1.5",
                        "urn:alm:descriptor:com.tectonic.ui:select:1.6.5",
                    ],
                },
            ],
        },
        {
            "name": "memcachedbackups.daas.tenxcloud.com",
            "version": "v1alpha1",
            "kind": "MemcachedBackup",
            "display_name": "Backup",
        },
    ],
    "alm_examples": (
        '[{"apiVersion": "daas.tenxcloud.com/v1", "kind": "MemcachedCluster", "metadata": '
        '{"name": "memcached-test"}, "spec": {"replicas": 2, "version": "v1.5", "setup": '
        '"sharded", "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": '
        '{"cpu": "1", "memory": "512Mi"}}}}, {"apiVersion": "daas.tenxcloud.com/v1alpha1", '
        '"kind": "MemcachedBackup", "metadata": {"name": "nightly"}, "spec": {"schedule": '
        '"0 3 * * *"}}]'
    ),
}


def check(obj, max_replicas=10):
    return memcached.validate_memcached(
        obj, namespace="my-mem", versions=["v1.5", "1.6.5"], max_replicas=max_replicas
    )


def errors_of(obj):
    _manifest, errors = check(obj)
    return errors


@pytest.mark.parametrize("setup", ["sharded", "replset"])
def test_rendered_custom_resource_for_both_setups(setup):
    manifest, errors = check(
        cr(name="memcached-test", setup=setup, nodeSelector={"nodeType": "gpu-node"})
    )
    assert errors == {}
    assert manifest == {
        "apiVersion": "daas.tenxcloud.com/v1",
        "kind": "MemcachedCluster",
        "metadata": {
            "name": "memcached-test",
            "namespace": "my-mem",
            "labels": {"app.kubernetes.io/managed-by": "operator-marketplace"},
        },
        "spec": {
            "replicas": 2,
            "version": "v1.5",
            "setup": setup,
            "resources": {
                "requests": {"cpu": "1", "memory": "512Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"},
            },
            "nodeSelector": {"nodeType": "gpu-node"},
        },
    }


@pytest.mark.parametrize(
    ("overrides", "path", "fragment"),
    [
        ({"replicas": 0}, "spec.replicas", "At least 1"),
        ({"replicas": 11}, "spec.replicas", "At most 10"),
        ({"replicas": "2"}, "spec.replicas", "whole number"),
        ({"replicas": True}, "spec.replicas", "whole number"),
        ({"setup": "sharded or replset"}, "spec.setup", "exactly one of sharded or replset"),
        ({"setup": "cluster"}, "spec.setup", "not a setup"),
        ({"version": "9.9"}, "spec.version", "v1.5, 1.6.5"),
        ({"nodeSelector": {"-bad key": "x"}}, "spec.nodeSelector", "not a valid label key"),
        ({"nodeSelector": {"Example.COM/gpu": "x"}}, "spec.nodeSelector", "DNS subdomain"),
        ({"nodeSelector": {"gpu": "yes please"}}, "spec.nodeSelector", "not a valid label value"),
        ({"nodeSelector": {"gpu": True}}, "spec.nodeSelector", "quote it"),
        (
            {
                "resources": {
                    "requests": {"cpu": "1", "memory": "512Mi"},
                    "limits": {"cpu": "500m", "memory": "512Mi"},
                }
            },
            "spec.resources.limits.cpu",
            "below the request",
        ),
        (
            {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}},
            "spec.resources.limits.memory",
            "below the request",
        ),
        (
            {"resources": {"limits": {"memory": "lots"}}},
            "spec.resources.limits.memory",
            "not a Kubernetes quantity",
        ),
        (
            {"resources": {"requests": {"cpu": "1 core"}}},
            "spec.resources.requests.cpu",
            "not a Kubernetes quantity",
        ),
        (
            {"resources": {"requests": {"memory": "512m"}}},
            "spec.resources.requests.memory",
            "did you mean 512Mi",
        ),
        (
            {"resources": {"requests": {"cpu": "0.0001"}}},
            "spec.resources.requests.cpu",
            "finer than 1m",
        ),
        ({"resources": {"requests": {"cpu": "-1"}}}, "spec.resources.requests.cpu", "negative"),
        (
            {"resources": {"requests": {"gpu": "1"}}},
            "spec.resources.requests",
            "Only cpu and memory",
        ),
        ({"resources": {"request": {"cpu": "1"}}}, "spec.resources", "Did you mean “requests”"),
        ({"replica": 2}, "spec", "Did you mean “replicas”"),
    ],
)
def test_every_error_is_named_on_its_field(overrides, path, fragment):
    errors = errors_of(cr(**overrides))
    assert path in errors, errors
    assert any(fragment in message for message in errors[path]), errors[path]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Mem1", "RFC 1123"),
        ("mem_1", "RFC 1123"),
        ("1mem", "Start with a letter"),
        ("m" * 41, "At most 40"),
        ("", "required"),
    ],
)
def test_names_follow_rfc_1123_and_fit_the_derived_names(name, fragment):
    errors = errors_of(cr(name=name))
    assert any(fragment in m for m in errors["metadata.name"]), errors


def test_the_namespace_is_the_projects():
    obj = cr()
    obj["metadata"]["namespace"] = "someone-else"
    assert "project's namespace" in errors_of(obj)["metadata.namespace"][0]


@pytest.mark.parametrize(
    ("affinity", "fragment"),
    [
        (
            # The seed's own example has this typo; it must not be silently ignored.
            {"nodeAffinity": {"requireDuringSchedulingIgnoredDuringExecution": {}}},
            "Did you mean “requiredDuringSchedulingIgnoredDuringExecution”",
        ),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                }
            },
            "nodeSelectorTerms: must not be empty",
        ),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "zone", "operator": "Equals", "values": ["a"]}
                                ]
                            }
                        ]
                    }
                }
            },
            "“Equals” is not an operator; use In, NotIn, Exists, DoesNotExist, Gt, Lt",
        ),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "zone", "operator": "In"}]}
                        ]
                    }
                }
            },
            "must not be empty when the operator is In",
        ),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "zone", "operator": "Exists", "values": ["a"]}
                                ]
                            }
                        ]
                    }
                }
            },
            "must be empty when the operator is Exists",
        ),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "cores", "operator": "Gt", "values": ["many"]}
                                ]
                            }
                        ]
                    }
                }
            },
            "must be an integer when the operator is Gt",
        ),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "cores", "operator": "Lt", "values": ["1", "2"]}
                                ]
                            }
                        ]
                    }
                }
            },
            "exactly one value when the operator is Lt",
        ),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchFields": [
                                    {"key": "metadata.labels", "operator": "In", "values": ["a"]}
                                ]
                            }
                        ]
                    }
                }
            },
            "matchFields supports only “metadata.name”",
        ),
        (
            {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 0, "preference": {}}
                    ]
                }
            },
            "weight: an integer from 1 to 100",
        ),
        (
            {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "memcached"}}}
                    ]
                }
            },
            "topologyKey: required",
        ),
        (
            {
                "podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 10,
                            "podAffinityTerm": {
                                "topologyKey": "zone",
                                "labelSelector": {
                                    "matchExpressions": [
                                        {"key": "app", "operator": "Gt", "values": ["1"]}
                                    ]
                                },
                            },
                        }
                    ]
                }
            },
            "“Gt” is not an operator; use In, NotIn, Exists, DoesNotExist",
        ),
        ({"nodeAffinity": ["not", "a", "mapping"]}, "affinity.nodeAffinity: must be a mapping"),
        ({"antiAffinity": {}}, "unknown field “antiAffinity”"),
    ],
)
def test_affinity_is_validated_as_a_kubernetes_affinity(affinity, fragment):
    errors = errors_of(cr(affinity=affinity))
    assert any(fragment in m for m in errors["spec.affinity"]), errors["spec.affinity"]


def test_a_correct_affinity_passes():
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/e2e-az-name",
                                "operator": "In",
                                "values": ["e2e-az1", "e2e-az2"],
                            },
                            {"key": "cores", "operator": "Gt", "values": ["4"]},
                            {"key": "spot", "operator": "DoesNotExist"},
                        ]
                    }
                ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 50,
                    "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]},
                }
            ],
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app": "memcached"}},
                    },
                }
            ]
        },
    }
    manifest, errors = check(cr(affinity=affinity))
    assert errors == {} and manifest["spec"]["affinity"] == affinity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1", Decimal(1)),
        ("1.5", Decimal("1.5")),
        ("512Mi", Decimal(512 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("1k", Decimal(1000)),
        ("1e3", Decimal(1000)),
        (2, Decimal(2)),
    ],
)
def test_kubernetes_quantities(text, value):
    assert memcached.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1MB", "1 Gi", "1.2.3", "0x10", None, True])
def test_not_quantities(text):
    with pytest.raises(ValueError):
        memcached.parse_quantity(text)


def test_versions_labels_and_example_come_from_the_csv():
    assert memcached.offered_versions(CSV_INFO) == ["v1.5", "1.6.5"]
    assert memcached.offered_versions({}) == ["v1.5", "1.6.5"]  # the seed's defaults
    initial = memcached.initial_spec(CSV_INFO)
    assert initial["name"] == "memcached-test" and initial["replicas"] == 2
    assert initial["resources"]["requests"] == {"cpu": "1", "memory": "512Mi"}
    form = MemcachedForm(csv_info=CSV_INFO, namespace="my-mem")
    assert form.fields["replicas"].label == "Replicas"
    assert form.fields["replicas"].help_text == "Number of memcached pods in the cluster."
    assert form.fields["version"].label == "Memcached Version"
    assert [c[0] for c in form.fields["version"].widget.choices] == ["v1.5", "1.6.5"]


def _form_data(**overrides):
    data = {
        "name": "mem1",
        "replicas": "2",
        "version": "v1.5",
        "setup": "sharded",
        "node_selector-key": ["nodeType"],
        "node_selector-value": ["gpu-node"],
        "affinity": "",
        "requests_cpu": "1",
        "requests_memory": "512Mi",
        "limits_cpu": "1",
        "limits_memory": "512Mi",
    }
    data.update(overrides)
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return query


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"replicas": "0"}, "replicas", "At least 1"),
        ({"replicas": "two"}, "replicas", "whole number"),
        ({"setup": "both"}, "setup", "exactly one of sharded or replset"),
        ({"node_selector-key": ["bad key!"]}, "node_selector", "not a valid label key"),
        (
            {"node_selector-key": ["a", "a"], "node_selector-value": ["1", "2"]},
            "node_selector",
            "appears twice",
        ),
        (
            {"node_selector-key": [""], "node_selector-value": ["orphan"]},
            "node_selector",
            "no label key",
        ),
        ({"limits_memory": "256Mi"}, "limits_memory", "below the request"),
        ({"requests_cpu": "fast"}, "requests_cpu", "not a Kubernetes quantity"),
        ({"affinity": "nodeAffinity: [unclosed"}, "affinity", "Not valid YAML"),
        ({"affinity": "nodeAffinity:\n  bogus: 1"}, "affinity", "unknown field “bogus”"),
        ({"name": "Bad_Name"}, "name", "RFC 1123"),
    ],
)
def test_form_tab_puts_each_error_on_its_field(overrides, field, fragment):
    form = MemcachedForm(_form_data(**overrides), csv_info=CSV_INFO, namespace="my-mem")
    assert not form.is_valid()
    assert field in form.errors, form.errors
    assert any(fragment in m for m in form.errors[field]), form.errors[field]


def test_form_and_yaml_tabs_validate_the_same_way():
    form = MemcachedForm(_form_data(), csv_info=CSV_INFO, namespace="my-mem")
    assert form.is_valid(), form.errors
    text = memcached.to_yaml(form.manifest)
    yaml_form = ManifestForm({"yaml": text}, csv_info=CSV_INFO, namespace="my-mem")
    assert yaml_form.is_valid(), yaml_form.errors
    assert yaml_form.manifest == form.manifest
    # The same bad value, typed in either tab, gives the same message.
    bad_form = MemcachedForm(_form_data(limits_cpu="500m"), csv_info=CSV_INFO, namespace="my-mem")
    obj = yaml.safe_load(text)
    obj["spec"]["resources"]["limits"]["cpu"] = "500m"
    bad_yaml = ManifestForm({"yaml": memcached.to_yaml(obj)}, csv_info=CSV_INFO, namespace="my-mem")
    assert not bad_form.is_valid() and not bad_yaml.is_valid()
    assert bad_yaml.errors["yaml"] == [
        f"spec.resources.limits.cpu: {m}" for m in bad_form.errors["limits_cpu"]
    ]
    # Back from YAML to the form keeps every value.
    assert initial_from_manifest(obj)["limits_cpu"] == "500m"
    assert initial_from_manifest(obj)["node_selector"] == {"nodeType": "gpu-node"}


def test_yaml_tab_reports_unparseable_text_with_its_line():
    form = ManifestForm({"yaml": "spec:\n  replicas: [1\n"}, csv_info=CSV_INFO, namespace="my-mem")
    assert not form.is_valid()
    assert "line" in form.errors["yaml"][0] and "Not valid YAML" in form.errors["yaml"][0]
    form = ManifestForm({"yaml": "- a\n- b\n"}, csv_info=CSV_INFO, namespace="my-mem")
    assert not form.is_valid() and "one object" in form.errors["yaml"][0]


def test_other_owned_apis_are_validated_as_objects_of_their_kind():
    from instances.manifests import validate_manifest

    api = memcached.find_api(CSV_INFO, "MemcachedBackup")
    example = memcached.example_for(CSV_INFO, api)
    assert example["spec"] == {"schedule": "0 3 * * *"}
    manifest, errors = validate_manifest(csv_info=CSV_INFO, namespace="my-mem", obj=example)
    assert errors == {} and manifest["metadata"]["namespace"] == "my-mem"
    wrong = {**example, "apiVersion": "daas.tenxcloud.com/v9", "metadata": {"name": "Bad!"}}
    _manifest, errors = validate_manifest(csv_info=CSV_INFO, namespace="my-mem", obj=wrong)
    assert errors["apiVersion"] == ["Must be daas.tenxcloud.com/v1alpha1."]
    assert "RFC 1123" in errors["metadata.name"][0]
    _manifest, errors = validate_manifest(
        csv_info=CSV_INFO, namespace="my-mem", obj={**example, "kind": "RedisCluster"}
    )
    assert "MemcachedCluster, MemcachedBackup" in errors["kind"][0]


def test_reading_the_cluster_back():
    pods = [
        {
            "metadata": {
                "name": "m-memcached-0",
                "labels": {"app": "memcached", "controller-revision-hash": "m-memcached-7f9c"},
                "creationTimestamp": "2024-01-01T00:00:00Z",
            },
            "spec": {
                "nodeName": "press2.65",
                "containers": [
                    {
                        "name": "memcached",
                        "ports": [{"name": "memcached", "containerPort": 11311, "protocol": "TCP"}],
                    }
                ],
            },
            "status": {
                "phase": "Running",
                "podIP": "172.31.61.202",
                "containerStatuses": [{"ready": True, "restartCount": 1}],
            },
        },
        {
            "metadata": {"name": "m-mcrouter-abc", "labels": {"app": "mcrouter"}},
            "spec": {"containers": [{"name": "mcrouter"}]},
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "ImagePullBackOff"}},
                    }
                ],
            },
        },
    ]
    rows = memcached.pod_rows(pods)
    assert rows[0] | {"created": ""} == {
        "name": "m-memcached-0",
        "role": "memcached",
        "ready": "1/1",
        "status": "Running",
        "restarts": 1,
        "node": "press2.65",
        "ip": "172.31.61.202",
        "port": 11311,  # the container's port, as the pod's spec declares it
        "revision": "m-memcached-7f9c",
        "containers": ["memcached"],
        "created": "",
    }
    assert rows[1]["status"] == "ImagePullBackOff" and rows[1]["ready"] == "0/1"
    node_port = {
        "metadata": {"name": "m-mcrouter-external"},
        "spec": {
            "type": "NodePort",
            "ports": [{"port": 11211, "nodePort": 31234, "protocol": "TCP"}],
        },
    }
    assert memcached.access_address(node_port, host="192.168.2.65") == "192.168.2.65:31234"
    balancer = {
        "spec": {"type": "LoadBalancer", "ports": [{"port": 11211, "nodePort": 30001}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.20"}]}},
    }
    assert memcached.access_address(balancer, host="") == "172.18.255.20:11211"
    assert (
        memcached.access_address({"spec": {"type": "LoadBalancer"}, "status": {}}, host="h") == ""
    )
    assert memcached.assess(None, current="deleting") == "deleted"
    assert (
        memcached.assess({"metadata": {}, "status": {"phase": "Running"}}, current="creating")
        == "running"
    )
    assert (
        memcached.assess({"metadata": {}, "status": {"phase": "Scaling"}}, current="running")
        == "running"
    )
    assert (
        memcached.assess({"metadata": {}, "status": {"phase": "Degraded"}}, current="running")
        == "degraded"
    )
    assert memcached.parse_stats({b"get_hits": 5, b"get_misses": 1, b"bytes": 10})["hits"] == 5
