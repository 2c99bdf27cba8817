import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from accounts import services
from accounts.models import Project


@pytest.fixture
def owner_client(client, tenant_with_owner):
    tenant, owner = tenant_with_owner("acme", is_provider=False)
    client.force_login(owner)
    client.tenant = tenant
    client.user = owner
    return client


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_bad_login_shows_a_clear_error_and_no_session(client, make_user):
    make_user("alice", password="right-Password-1")
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_good_login_lands_on_overview(client, make_user):
    make_user("alice", password="right-Password-1")
    response = client.post(
        reverse("accounts:login"),
        {"username": "alice", "password": "right-Password-1"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Welcome, alice" in response.content.decode()


def test_project_form_names_the_bad_field_and_saves_nothing(owner_client):
    response = owner_client.post(
        reverse("accounts:project-create"),
        {"name": "Cache", "namespace": "My_Mem", "description": ""},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-field="namespace"' in html and "RFC 1123" in html
    assert not Project.objects.exists()


def test_project_form_reports_duplicate_namespace(owner_client, tenant_with_owner):
    other, other_owner = tenant_with_owner("globex")
    services.create_project(actor=other_owner, tenant=other, name="x", namespace="taken")
    response = owner_client.post(
        reverse("accounts:project-create"), {"name": "Mine", "namespace": "taken"}
    )
    assert "is already used by another project" in response.content.decode()
    assert Project.objects.filter(tenant=owner_client.tenant).count() == 0


def test_project_is_created_and_becomes_the_active_project(owner_client):
    response = owner_client.post(
        reverse("accounts:project-create"), {"name": "Cache", "namespace": "my-mem"}, follow=True
    )
    html = response.content.decode()
    assert "Project “Cache” created." in html
    assert "<code>my-mem</code>" in html
    project = Project.objects.get()
    assert owner_client.session["active_project_id"] == project.pk


def test_creating_a_project_needs_a_tenant(client, make_user):
    client.force_login(make_user("loner"))
    response = client.get(reverse("accounts:project-create"))
    assert response.status_code == 403
    assert "You are not a member of any tenant yet." in response.content.decode()


def test_a_plain_member_is_told_only_owners_create_projects(owner_client, make_user):
    member = make_user("bob")
    services.add_member(actor=owner_client.user, tenant=owner_client.tenant, user=member)
    other = Client()
    other.force_login(member)
    response = other.post(reverse("accounts:project-create"), {"name": "x", "namespace": "x"})
    assert response.status_code == 200
    assert "Only an owner of acme can do this." in response.content.decode()
    assert not Project.objects.exists()


def test_empty_project_list_invites_the_first_project(owner_client):
    html = owner_client.get(reverse("accounts:project-list")).content.decode()
    assert "Create the first project" in html


def test_project_list_query_count_stays_constant(
    owner_client, django_assert_max_num_queries, tenant_with_owner
):
    for i in range(2):
        services.create_project(
            actor=owner_client.user, tenant=owner_client.tenant, name=f"p{i}", namespace=f"p{i}"
        )
    with django_assert_max_num_queries(8) as few:
        owner_client.get(reverse("accounts:project-list"))
    for i in range(2, 12):
        services.create_project(
            actor=owner_client.user, tenant=owner_client.tenant, name=f"p{i}", namespace=f"p{i}"
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(reverse("accounts:project-list"))


def test_switcher_changes_tenant_and_refuses_foreign_ones(owner_client, tenant_with_owner):
    second = services.create_tenant(name="second", owner=owner_client.user)
    foreign, _owner = tenant_with_owner("foreign")
    response = owner_client.post(
        reverse("accounts:switch-workspace"), {"tenant": second.pk, "next": "/"}
    )
    assert response.status_code == 302
    assert owner_client.session["active_tenant_id"] == second.pk
    response = owner_client.post(reverse("accounts:switch-workspace"), {"tenant": foreign.pk})
    assert response.status_code == 404
    assert owner_client.session["active_tenant_id"] == second.pk


def test_switcher_refuses_a_project_of_another_tenant(owner_client):
    second = services.create_tenant(name="second", owner=owner_client.user)
    project = services.create_project(
        actor=owner_client.user, tenant=second, name="s", namespace="s"
    )
    response = owner_client.post(
        reverse("accounts:switch-workspace"),
        {"tenant": owner_client.tenant.pk, "project": project.pk},
    )
    assert response.status_code == 400


def test_switcher_ignores_offsite_next(owner_client):
    response = owner_client.post(
        reverse("accounts:switch-workspace"),
        {"tenant": owner_client.tenant.pk, "next": "https://evil.example/"},
    )
    assert response.url == reverse("home")
    response = owner_client.post(
        reverse("accounts:switch-workspace"),
        {"tenant": owner_client.tenant.pk, "next": "/accounts/projects/"},
    )
    assert response.url == "/accounts/projects/"


def test_navigation_depends_on_role(client, tenant_with_owner):
    buyer_tenant, buyer = tenant_with_owner("buyers")
    provider_tenant, provider = tenant_with_owner("sellers", is_provider=True)
    client.force_login(buyer)
    html = client.get(reverse("home")).content.decode()
    assert "Cloud Market" in html and "Purchased Assets" in html and "Order Management" in html
    assert "Asset Management" not in html and "Approvals" not in html
    client.force_login(provider)
    html = client.get(reverse("home")).content.decode()
    assert "Asset Management" in html and "Sales Management" in html
    assert "Approvals" not in html
    services.grant_platform_admin(user=provider)
    html = client.get(reverse("home")).content.decode()
    assert "Approvals" in html and "Clusters" in html


def test_navigation_is_chinese_for_a_chinese_browser(owner_client):
    html = owner_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content
    html = html.decode()
    for text in ["云市场", "已购资产", "订单管理", "Operator 应用", "Operator 实例", "我是用户"]:
        assert text in html
    assert 'lang="zh-hans"' in html
    # Each sidebar entry reads differently: two menus under one name would be a guess.
    sidebar = re.search(r'<nav[^>]*class="[^"]*sidebar[^"]*"[^>]*>(.*?)</nav>', html, re.S)
    labels = re.findall(r"<a [^>]*>([^<]+)</a>", sidebar.group(1) if sidebar else html)
    assert len(labels) == len(set(labels)), labels


def test_language_switcher_overrides_the_browser(owner_client):
    owner_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    html = owner_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "云市场" in html


def test_unknown_url_gets_the_friendly_404(owner_client):
    response = owner_client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_catalog_leads_to_the_service_catalog_and_the_favicon_is_served(owner_client):
    catalog = owner_client.get("/catalog/", follow=True)
    assert (
        catalog.status_code == 200
        and catalog.redirect_chain[-1][0] == "/instances/catalog/memcached/"
    )
    favicon = owner_client.get("/favicon.ico")
    assert favicon.status_code == 301 and favicon["Location"].endswith("favicon.svg")
    assert 'rel="icon"' in owner_client.get("/").content.decode()


def test_login_page_names_the_demo_logins_only_in_debug(client, settings, make_user):
    make_user("buyer")
    settings.DEBUG = True
    html = client.get("/accounts/login/").content.decode()
    assert "Demo logins" in html and "<code>buyer</code>" in html and "<code>demo</code>" in html
    # Only the demo users that exist here are named.
    assert "<code>provider</code>" not in html
    settings.DEBUG = False
    assert "Demo logins" not in client.get("/accounts/login/").content.decode()


@override_settings(ROOT_URLCONF="tests.broken_urls", DEBUG=False)
def test_server_error_page_never_shows_a_traceback(client, db):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "Traceback" not in html and "ZeroDivisionError" not in html
    api = client.get("/api/boom/")
    assert api.status_code == 500
    assert api.json()["code"] == "server_error"
    assert "ZeroDivisionError" not in api.content.decode()
