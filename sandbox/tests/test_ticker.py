"""The controllers run a full pass only when something may have changed.

A pass over an unchanged store changes nothing (the controllers are level-triggered), so an
idle sandbox must not spend a core re-reading every object twenty times a second: that cost
grew with every namespace a test session left behind.
"""

import time

from sandbox.tests.conftest import wait_for


def test_an_idle_sandbox_runs_a_full_pass_about_once_a_second(fresh):
    kube = fresh(tick_interval=0.02, run_processes=False)
    sb = kube.sb
    ns = kube.namespace()
    kube.install_operator(ns)
    # Settled: wait for a pass that changed nothing, then count passes while idle.
    wait_for(lambda: sb.store.revision == sb._rv_at_last_pass, message="a quiet pass")
    before, revision = sb.passes, sb.store.revision
    time.sleep(2.0)  # measuring what happens while nothing changes, not waiting for it
    assert sb.store.revision == revision
    # 2 s at a 0.02 s tick used to be ~100 passes; idle, it is one per idle_tick_interval.
    assert sb.passes - before <= 4


def test_a_write_gets_its_pass_at_the_next_tick(fresh):
    kube = fresh(tick_interval=0.02, run_processes=False)
    sb = kube.sb
    ns = kube.namespace()
    wait_for(lambda: sb.store.revision == sb._rv_at_last_pass, message="a quiet pass")
    sb.idle_tick_interval = 3600  # no idle pass will come: only the write can start one
    kube.operator_group(ns)
    wait_for(
        lambda: kube.status("operators.coreos.com/v1", "OperatorGroup", "og", ns).get("namespaces"),
        message="the OperatorGroup's status",
    )


def test_publishing_a_csv_wakes_the_controllers(fresh):
    kube = fresh(tick_interval=0.02, run_processes=False)
    sb = kube.sb
    ns = kube.namespace()
    csv = kube.install_operator(ns)
    wait_for(lambda: sb.store.revision == sb._rv_at_last_pass, message="a quiet pass")
    sb.idle_tick_interval = 3600  # the catalog changed, the store did not: only wake() helps
    newer = sb.publish_csv(
        package="memcached-cluster-operator", channel="stable", version="9.9.9", replaces=csv
    )
    wait_for(lambda: kube.sub_status(ns).get("currentCSV") == newer, message="the upgrade to 9.9.9")
