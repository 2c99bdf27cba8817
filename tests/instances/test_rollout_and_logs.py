"""Fixes seen tried as a new user would: a StatefulSet rollout stuck on a Pending pod of the
old revision (named, and fixed by deleting that pod), and the logs of an mcrouter pod
(the container list follows the chosen pod)."""

from datetime import UTC, datetime, timedelta

from rest_framework.test import APIClient

from accounts.models import AuditEntry
from instances import memcached
from instances import services as instance_services
from instances.manifests import manifest_of
from tests.conftest import sandbox_object

from .conftest import create, synced_until

# --- stuck rollout ------------------------------------------------------------------------


def _sts(update, current):
    return {
        "metadata": {"name": "c-memcached"},
        "status": {"updateRevision": update, "currentRevision": current},
    }


def _pod(name, revision, *, phase="Pending", since="2030-01-01T00:00:00Z"):
    return {
        "metadata": {
            "name": name,
            "labels": {"controller-revision-hash": revision},
            "creationTimestamp": since,
        },
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available",
                    "lastTransitionTime": since,
                }
            ],
        },
    }


def test_a_rollout_is_stuck_only_on_an_old_revision_pod_pending_for_a_while():
    now = datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    old = _pod("c-memcached-0", "c-1")
    stuck = memcached.stuck_rollout(_sts("c-2", "c-1"), [old], now=now, after_seconds=30)
    assert [(p["name"], p["reason"]) for p in stuck["pods"]] == [("c-memcached-0", "Unschedulable")]
    assert (stuck["current_revision"], stuck["update_revision"]) == ("c-1", "c-2")
    # Not yet "a while"; no newer revision; the pod already of the new revision; running.
    assert memcached.stuck_rollout(_sts("c-2", "c-1"), [old], now=now, after_seconds=120) == {}
    assert memcached.stuck_rollout(_sts("c-1", "c-1"), [old], now=now, after_seconds=0) == {}
    new = _pod("c-memcached-0", "c-2")
    assert memcached.stuck_rollout(_sts("c-2", "c-1"), [new], now=now, after_seconds=0) == {}
    running = _pod("c-memcached-0", "c-1", phase="Running")
    assert memcached.stuck_rollout(_sts("c-2", "c-1"), [running], now=now, after_seconds=0) == {}
    assert memcached.stuck_rollout(None, [old], now=now, after_seconds=0) == {}


def test_a_rollout_stuck_on_a_pending_pod_is_named_and_fixed_by_deleting_it(
    installed, client, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.INSTANCE_STUCK_ROLLOUT_AFTER = 0
    capture = django_capture_on_commit_callbacks
    instance = create(
        installed, capture, name="picky", replicas=2, nodeSelector={"disktype": "none-has-it"}
    )
    ns = instance.namespace
    synced_until(
        instance,
        lambda i: any(
            p["name"] == "picky-memcached-0" and p["status"] == "Pending" for p in i.pods
        ),
        "the first pod to be Pending",
        timeout=30,
    )
    assert instance.stuck_rollout == {}  # Pending, but no newer revision to roll out
    # The user removes the nodeSelector; the StatefulSet gets a new revision.
    manifest = manifest_of(instance)
    del manifest["spec"]["nodeSelector"]
    with capture(execute=True):
        instance_services.update_instance(
            actor=instance.created_by, instance=instance, manifest=manifest
        )
    synced_until(
        instance, lambda i: i.stuck_rollout.get("pods"), "the rollout to be stuck", timeout=30
    )
    stuck = instance.stuck_rollout
    assert [p["name"] for p in stuck["pods"]] == ["picky-memcached-0"]
    assert stuck["pods"][0]["reason"] == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in stuck["pods"][0]["message"]
    # As on a real cluster, the StatefulSet does not replace that pod by itself.
    statefulset = sandbox_object(sandbox, "apps/v1", "StatefulSet", ns, "picky-memcached")
    pod = sandbox_object(sandbox, "v1", "Pod", ns, "picky-memcached-0")
    assert statefulset["status"]["updateRevision"] != statefulset["status"]["currentRevision"]
    assert pod["metadata"]["labels"]["controller-revision-hash"] == stuck["current_revision"]
    assert pod["spec"]["nodeSelector"] == {"disktype": "none-has-it"}
    assert instance.events.filter(reason="RolloutStuck", type="Warning").exists()

    client.force_login(instance.created_by)
    html = client.get(f"/instances/{instance.pk}/").content.decode()
    assert 'data-testid="stuck-rollout"' in html and "The rollout is stuck" in html
    assert "picky-memcached-0" in html and "Unschedulable" in html
    assert 'data-confirm="Delete the stuck pod?' in html
    api = APIClient()
    api.force_authenticate(instance.created_by)
    detail = api.get(f"/api/v1/instances/{instance.pk}/").json()
    assert [p["name"] for p in detail["stuck_rollout"]["pods"]] == ["picky-memcached-0"]

    with capture(execute=True):
        response = client.post(f"/instances/{instance.pk}/rollout/delete-stuck-pods/")
    assert response.status_code == 302
    audit = AuditEntry.objects.get(action="instance.stuck_pods_deleted", object_id=instance.pk)
    assert audit.actor == instance.created_by and audit.changes == {"pods": ["picky-memcached-0"]}
    synced_until(
        instance,
        lambda i: i.status == "running" and i.ready_replicas == 2 and i.settled,
        "the new revision to run",
        timeout=30,
    )
    assert instance.stuck_rollout == {}
    assert instance.events.filter(reason="StuckPodDeleted").exists()
    pod = sandbox_object(sandbox, "v1", "Pod", ns, "picky-memcached-0")
    assert pod["metadata"]["labels"]["controller-revision-hash"] == stuck["update_revision"]
    html = client.get(f"/instances/{instance.pk}/").content.decode()
    assert 'data-testid="stuck-rollout"' not in html


def test_the_fix_is_refused_when_nothing_is_stuck(running, client):
    api = APIClient()
    api.force_authenticate(running.created_by)
    response = api.post(f"/api/v1/instances/{running.pk}/delete-stuck-pods/")
    assert response.status_code == 400 and response.json()["code"] == "rollout_not_stuck"
    client.force_login(running.created_by)
    page = client.post(f"/instances/{running.pk}/rollout/delete-stuck-pods/", follow=True)
    assert "No rollout of this instance is stuck" in page.content.decode()
    assert not AuditEntry.objects.filter(action="instance.stuck_pods_deleted").exists()


# --- logs of an mcrouter pod ------------------------------------------------------------------


def _mcrouter_pod(instance):
    return next(p["name"] for p in instance.pods if p["role"] == "mcrouter")


def test_the_container_list_follows_the_chosen_pod(running, client):
    client.force_login(running.created_by)
    router = _mcrouter_pod(running)
    page = client.get(f"/instances/{running.pk}/logs/").content.decode()
    assert '<option value="memcached" selected>memcached</option>' in page
    assert 'hx-get="/instances/' in page and 'hx-target="#log-container"' in page
    fragment = client.get(
        f"/instances/{running.pk}/logs/?fragment=log-containers&pod={router}",
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert fragment.startswith('<span id="log-container"')
    assert '<option value="mcrouter" selected>mcrouter</option>' in fragment
    assert "memcached</option>" not in fragment
    assert f'name="containers_of" value="{router}"' in fragment
    # A link to the pod with another pod's container opens the pod's own.
    page = client.get(
        f"/instances/{running.pk}/logs/?pod={router}&container=memcached"
    ).content.decode()
    assert '<option value="mcrouter" selected>mcrouter</option>' in page


def test_logs_of_an_mcrouter_pod_from_the_page_and_the_api(
    running, client, django_capture_on_commit_callbacks
):
    client.force_login(running.created_by)
    router = _mcrouter_pod(running)
    with django_capture_on_commit_callbacks(execute=True):
        # Without the script: the container list was drawn for the memcached pod.
        response = client.post(
            f"/instances/{running.pk}/logs/fetch/",
            {
                "pod": router,
                "container": "memcached",
                "containers_of": "mem1-memcached-0",
                "tail": "5",
            },
        )
    assert response.status_code == 302
    assert response["Location"].endswith(f"?pod={router}&container=mcrouter")
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="log-text"' in page and "Choose one of" not in page
    # A container that is not the chosen pod's, chosen for that pod, is refused by name.
    refused = client.post(
        f"/instances/{running.pk}/logs/fetch/",
        {"pod": router, "container": "memcached", "containers_of": router, "tail": "5"},
        follow=True,
    ).content.decode()
    assert "Choose one of mcrouter." in refused
    api = APIClient()
    api.force_authenticate(running.created_by)
    with django_capture_on_commit_callbacks(execute=True):
        asked = api.post(
            f"/api/v1/instances/{running.pk}/logs/", {"pod": router, "tail": 3}, format="json"
        )
    assert asked.status_code == 202 and asked.json()["container"] == "mcrouter"
    log = api.get(f"/api/v1/instances/{running.pk}/logs/?pod={router}").json()
    assert log["container"] == "mcrouter" and log["error"] == "" and log["text"]


def test_stuck_timer_counts_from_when_the_pod_stopped_scheduling():
    since = datetime(2030, 1, 1, tzinfo=UTC)
    pod = _pod("c-memcached-1", "c-1", since=since.isoformat().replace("+00:00", "Z"))
    sts = _sts("c-2", "c-1")
    just = since + timedelta(seconds=29)
    assert memcached.stuck_rollout(sts, [pod], now=just, after_seconds=30) == {}
    later = since + timedelta(seconds=30)
    assert memcached.stuck_rollout(sts, [pod], now=later, after_seconds=30)["pods"]
