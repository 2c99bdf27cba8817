"""继续支付 chooses the project and cluster (the seed: "选择需要付款项目和使用集群，完成继续支付"):
the order placed for one target is paid for another of the buyer's, and installs there."""

import re
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from assets.models import AssetVersion
from orders import services
from orders.models import LedgerEntry, Order, Wallet
from provisioning import services as provisioning
from tests.assets.factories import ClusterFactory

from .factories import ProviderCatalogFactory
from .test_services import codes


@pytest.fixture
def edge(buyer, provider):
    """A second cluster, linked to the buyer's project `two` only, serving the provider's
    catalog (so mem1 installs there)."""
    cluster = ClusterFactory(name="edge", projects=[buyer.projects_list[1]])
    ProviderCatalogFactory(cluster=cluster, tenant=provider)
    return cluster


@pytest.fixture
def pending(buyer, mem1, place, fund, default_cluster):
    """A pay-later order for my-mem on the default cluster, and the 10 T to pay it."""
    order = place(buyer, mem1, cluster=default_cluster)
    fund(buyer, "10.00")
    return order


def _nothing_changed(order, buyer, default_cluster):
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert (order.project, order.cluster) == (buyer.project, default_cluster)
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("10.00")
    assert not LedgerEntry.objects.filter(order=order).exists()


# --- the service ---------------------------------------------------------------------------


def test_paying_for_another_project_and_cluster_moves_the_order_and_its_installation(
    buyer, pending, edge
):
    two = buyer.projects_list[1]
    payment = services.pay_order(
        actor=buyer.owner, order=pending, idempotency_key="k", project=two, cluster=edge
    )
    order = Order.objects.get(pk=pending.pk)
    assert payment.order.status == order.status == "paid"
    assert (order.project, order.cluster) == (two, edge)
    assert Wallet.objects.get(tenant=buyer).balance == Decimal("9.00")
    audit = AuditEntry.objects.get(action="order.paid", object_id=str(order.pk))
    assert audit.changes["target"] == {
        "project": ["my-mem", "two"],
        "cluster": ["默认集群", "edge"],
    }
    installation = provisioning.install_paid_order(order_id=order.pk)
    assert installation is not None
    assert (installation.namespace, installation.cluster, installation.project) == (
        "two",
        edge,
        two,
    )


def test_another_project_alone_takes_its_first_open_cluster(buyer, pending, default_cluster):
    two = buyer.projects_list[1]
    services.pay_order(actor=buyer.owner, order=pending, idempotency_key="k", project=two)
    order = Order.objects.get(pk=pending.pk)
    assert (order.project, order.cluster) == (two, default_cluster)


def test_the_same_target_pays_as_before_and_audits_no_move(buyer, pending, default_cluster):
    services.pay_order(
        actor=buyer.owner,
        order=pending,
        idempotency_key="k",
        project=buyer.project,
        cluster=default_cluster,
    )
    order = Order.objects.get(pk=pending.pk)
    assert (order.status, order.project, order.cluster) == ("paid", buyer.project, default_cluster)
    assert "target" not in AuditEntry.objects.get(action="order.paid").changes


def test_a_project_of_another_tenant_is_refused_on_project(
    buyer, other_buyer, pending, default_cluster
):
    with pytest.raises(ValidationError) as refused:
        services.pay_order(
            actor=buyer.owner, order=pending, idempotency_key="k", project=other_buyer.project
        )
    assert codes(refused.value) == {"project": ["project_not_yours"]}
    _nothing_changed(pending, buyer, default_cluster)


def test_a_cluster_not_open_to_the_project_is_refused_on_cluster(
    buyer, pending, edge, default_cluster
):
    with pytest.raises(ValidationError) as refused:  # edge is linked to `two`, not my-mem
        services.pay_order(actor=buyer.owner, order=pending, idempotency_key="k", cluster=edge)
    assert codes(refused.value) == {"cluster": ["cluster_not_open"]}
    assert "linked to the project my-mem" in refused.value.message_dict["cluster"][0]
    _nothing_changed(pending, buyer, default_cluster)


def test_a_cluster_the_operator_cannot_install_on_is_refused_before_paying(
    buyer, pending, edge, default_cluster
):
    """An operator that only watches all namespaces runs on a cluster only once the
    platform installed it there: said before the money moves, as when buying."""
    AssetVersion.objects.filter(pk=pending.version_id).update(
        channel_heads={"stable": {"install_modes": ["AllNamespaces"]}}
    )
    with pytest.raises(ValidationError) as refused:
        services.pay_order(
            actor=buyer.owner,
            order=pending,
            idempotency_key="k",
            project=buyer.projects_list[1],
            cluster=edge,
        )
    assert codes(refused.value) == {"cluster": ["not_installable_in_project"]}
    assert "install it cluster-wide" in refused.value.message_dict["cluster"][0]
    _nothing_changed(pending, buyer, default_cluster)


def test_a_renewal_has_no_target_to_choose(buyer, mem1, place, fund):
    fund(buyer, "10.00")
    paid = place(buyer, mem1, pay_now=True)
    renewal = services.renew(actor=buyer.owner, entitlement=paid.entitlement)
    with pytest.raises(ValidationError) as refused:
        services.pay_order(
            actor=buyer.owner, order=renewal, idempotency_key="k", project=buyer.project
        )
    assert codes(refused.value) == {"project": ["target_fixed"]}
    assert Order.objects.get(pk=renewal.pk).status == "pending_payment"


def test_the_same_key_with_another_project_is_a_reused_key(buyer, pending, edge):
    services.pay_order(actor=buyer.owner, order=pending, idempotency_key="k")
    again = services.pay_order(actor=buyer.owner, order=pending, idempotency_key="k")
    assert again.replayed
    with pytest.raises(ValidationError) as refused:
        services.pay_order(
            actor=buyer.owner,
            order=pending,
            idempotency_key="k",
            project=buyer.projects_list[1],
            cluster=edge,
        )
    assert codes(refused.value) == {"idempotency_key": ["idempotency_key_reused"]}
    assert Order.objects.get(pk=pending.pk).project == buyer.project


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retargeted_payment_settles_in_the_one_statement(buyer, pending, edge):
    """The target is written by the statement that pays: no statement inside a client
    transaction, and the payment with a move costs only its checks more."""
    from .test_payment_statements import payment_statements

    two = buyer.projects_list[1]
    payment, statements = payment_statements(
        lambda: services.pay_order(
            actor=buyer.owner, order=pending, idempotency_key="k", project=two, cluster=edge
        )
    )
    assert payment.order.status == "paid"
    assert not any(txn for _sql, txn in statements), "a client transaction holds the wallet"
    settling = [sql for sql, _txn in statements if sql.lstrip().startswith("WITH moves")]
    assert len(settling) == 1
    # A payment's 3, and 4 reads of the checks (open cluster, version, the old names for
    # the audit), all before the settling statement locks anything.
    assert len(statements) <= 7, "\n\n".join(sql for sql, _txn in statements)
    order = Order.objects.get(pk=pending.pk)
    assert (order.status, order.project, order.cluster) == ("paid", two, edge)
    audit = AuditEntry.objects.get(action="order.paid", object_id=str(order.pk))
    assert audit.changes["target"] == {
        "project": ["my-mem", "two"],
        "cluster": ["默认集群", "edge"],
    }
    assert audit.changes["balance_after"] == "9.00"


# --- the API -------------------------------------------------------------------------------


@pytest.fixture
def api(buyer):
    client = APIClient()
    client.force_authenticate(buyer.owner)
    return client


def _pay(api, order, key, **body):
    return api.post(
        f"/api/v1/orders/{order.pk}/pay/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_the_api_pays_for_another_project_and_cluster(api, buyer, pending, edge):
    two = buyer.projects_list[1]
    response = _pay(api, pending, "k", project=two.pk, cluster=edge.pk)
    assert response.status_code == 200, response.json()
    order = api.get(f"/api/v1/orders/{pending.pk}/").json()
    assert (order["project"], order["cluster"]) == (two.pk, edge.pk)
    replay = _pay(api, pending, "k", project=two.pk, cluster=edge.pk)
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    reused = _pay(api, pending, "k", project=buyer.project.pk)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (lambda buyer, other, edge: {"project": other.project.pk}, "project", "invalid"),
        (lambda buyer, other, edge: {"cluster": edge.pk}, "cluster", "cluster_not_open"),
        (lambda buyer, other, edge: {"project": "x"}, "project", "invalid"),
        (lambda buyer, other, edge: {"cluster": 10**9}, "cluster", "invalid"),
    ],
)
def test_the_api_refuses_a_target_naming_the_field(
    api, buyer, other_buyer, pending, edge, default_cluster, body, field, code
):
    response = _pay(api, pending, str(uuid.uuid4()), **body(buyer, other_buyer, edge))
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == code and field in payload["fields"], payload
    _nothing_changed(pending, buyer, default_cluster)


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer.owner)
    return client


def _token(html):
    return re.search(r'name="idempotency_key" value="(\w+)"', html).group(1)


def test_the_pay_page_preselects_the_order_target_and_pays_for_another(
    buyer_client, buyer, pending, edge, default_cluster
):
    url = reverse("orders:order-pay", args=[pending.code])
    html = buyer_client.get(url).content.decode()
    two = buyer.projects_list[1]
    assert re.search(rf'<option value="{buyer.project.pk}" selected>my-mem ', html)
    assert f'<option value="{two.pk}">two ' in html
    assert re.search(rf'<option value="{default_cluster.pk}" selected>默认集群', html)
    assert "edge" not in html  # not open to my-mem
    # The htmx refresh after choosing `two`: its clusters, the order's still chosen.
    fields = buyer_client.get(
        url, {"fields": "1", "project": two.pk, "cluster": default_cluster.pk}
    ).content.decode()
    assert fields.startswith('<div id="pay-fields"')
    assert f'<option value="{edge.pk}">edge<' in fields
    assert re.search(rf'<option value="{default_cluster.pk}" selected>', fields)
    paid = buyer_client.post(
        url,
        {"idempotency_key": _token(html), "project": two.pk, "cluster": edge.pk},
        follow=True,
    )
    assert "Paid 1.00 T for mem1" in paid.content.decode()
    order = Order.objects.get(pk=pending.pk)
    assert (order.status, order.project, order.cluster) == ("paid", two, edge)


def test_the_pay_page_refuses_a_cluster_not_open_to_the_project(
    buyer_client, buyer, other_buyer, pending, edge, default_cluster
):
    url = reverse("orders:order-pay", args=[pending.code])
    token = _token(buyer_client.get(url).content.decode())
    wrong_cluster = buyer_client.post(
        url, {"idempotency_key": token, "project": buyer.project.pk, "cluster": edge.pk}
    )
    assert wrong_cluster.status_code == 400
    assert 'data-field="cluster"' in wrong_cluster.content.decode()
    wrong_project = buyer_client.post(
        url, {"idempotency_key": token, "project": other_buyer.project.pk}
    )
    assert wrong_project.status_code == 400
    assert 'data-field="project"' in wrong_project.content.decode()
    _nothing_changed(pending, buyer, default_cluster)


def test_a_post_without_a_target_pays_for_the_order_target(buyer_client, buyer, pending):
    url = reverse("orders:order-pay", args=[pending.code])
    token = _token(buyer_client.get(url).content.decode())
    assert buyer_client.post(url, {"idempotency_key": token}).status_code == 302
    order = Order.objects.get(pk=pending.pk)
    assert (order.status, order.project) == ("paid", buyer.project)
