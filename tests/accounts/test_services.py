import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts import selectors, services
from accounts.models import AuditEntry, Membership, Project
from accounts.permissions import is_platform_admin
from core.errors import NotFound, NotPermitted, error_code


@pytest.mark.parametrize(
    "namespace",
    ["My-Mem", "my_mem", "-mem", "mem-", "", "a" * 64, "mem.cache", "空间"],
)
def test_invalid_namespace_is_refused_on_the_field_and_nothing_is_saved(
    tenant_with_owner, namespace
):
    tenant, owner = tenant_with_owner()
    with pytest.raises(ValidationError) as exc:
        services.create_project(actor=owner, tenant=tenant, name="cache", namespace=namespace)
    assert "namespace" in exc.value.message_dict
    assert error_code(exc.value) == "project_invalid"
    assert not Project.objects.exists()


def test_valid_project_is_created_with_an_audit_row(tenant_with_owner):
    tenant, owner = tenant_with_owner()
    project = services.create_project(actor=owner, tenant=tenant, name="Cache", namespace="my-mem")
    assert project.namespace == "my-mem"
    entry = AuditEntry.objects.get(action="project.created")
    assert entry.actor == owner and entry.object_id == str(project.pk) and entry.tenant == tenant


def test_namespace_is_unique_across_tenants(tenant_with_owner):
    acme, acme_owner = tenant_with_owner("acme")
    globex, globex_owner = tenant_with_owner("globex")
    services.create_project(actor=acme_owner, tenant=acme, name="a", namespace="shared")
    with pytest.raises(ValidationError) as exc:
        services.create_project(actor=globex_owner, tenant=globex, name="b", namespace="shared")
    assert "already used" in exc.value.message_dict["namespace"][0]
    assert error_code(exc.value) == "namespace_taken"
    assert Project.objects.count() == 1


def test_project_name_is_unique_per_tenant_ignoring_case(tenant_with_owner):
    acme, owner = tenant_with_owner("acme")
    globex, globex_owner = tenant_with_owner("globex")
    services.create_project(actor=owner, tenant=acme, name="Cache", namespace="cache-a")
    with pytest.raises(ValidationError) as exc:
        services.create_project(actor=owner, tenant=acme, name="cache", namespace="cache-b")
    assert list(exc.value.message_dict) == ["name"]
    assert error_code(exc.value) == "project_name_taken"
    # Another tenant may use the same name.
    services.create_project(actor=globex_owner, tenant=globex, name="cache", namespace="cache-c")


def test_reserved_namespaces_are_refused(tenant_with_owner):
    tenant, owner = tenant_with_owner()
    with pytest.raises(ValidationError) as exc:
        services.create_project(actor=owner, tenant=tenant, name="sys", namespace="kube-system")
    assert "reserved" in exc.value.message_dict["namespace"][0]
    assert error_code(exc.value) == "namespace_reserved"


def test_a_plain_member_cannot_create_projects(tenant_with_owner, make_user):
    tenant, owner = tenant_with_owner()
    member = make_user("bob")
    services.add_member(actor=owner, tenant=tenant, user=member)
    with pytest.raises(PermissionDenied) as exc:
        services.create_project(actor=member, tenant=tenant, name="x", namespace="x")
    assert isinstance(exc.value, NotPermitted) and exc.value.code == "not_an_owner"
    assert str(exc.value) == "Only an owner of acme can do this."
    assert not Project.objects.exists()
    with pytest.raises(NotPermitted, match="Only an owner of acme"):
        services.add_member(actor=member, tenant=tenant, user=make_user("eve"))


def test_a_model_refusal_keeps_its_message_and_no_clash_is_added_on_that_field(
    tenant_with_owner,
):
    tenant, owner = tenant_with_owner()
    services.create_project(actor=owner, tenant=tenant, name="Cache", namespace="cache")
    with pytest.raises(ValidationError) as exc:
        services.create_project(actor=owner, tenant=tenant, name="cache", namespace="Bad_NS")
    assert len(exc.value.message_dict["namespace"]) == 1
    assert "RFC 1123" in exc.value.message_dict["namespace"][0]
    assert "already has a project" in exc.value.message_dict["name"][0]
    codes = {field: [e.code for e in errors] for field, errors in exc.value.error_dict.items()}
    assert codes == {"namespace": ["project_invalid"], "name": ["project_name_taken"]}


def test_a_lost_race_for_the_namespace_is_reported_on_the_field(tenant_with_owner, monkeypatch):
    tenant, owner = tenant_with_owner()
    real_clashes = services._project_clashes
    calls = []

    def no_clash_at_first(**kwargs):
        # The first look finds nothing; by the time the row is written another request has won.
        calls.append(kwargs)
        if len(calls) == 1:
            Project.objects.create(tenant=tenant, name="other", namespace=kwargs["namespace"])
            return []
        return real_clashes(**kwargs)

    monkeypatch.setattr(services, "_project_clashes", no_clash_at_first)
    with pytest.raises(ValidationError) as exc:
        services.create_project(actor=owner, tenant=tenant, name="Cache", namespace="cache")
    assert "already used" in exc.value.message_dict["namespace"][0]
    assert error_code(exc.value) == "namespace_taken"
    assert Project.objects.filter(namespace="cache").count() == 1


def test_database_refuses_invalid_namespace_and_duplicates_even_without_the_service(
    tenant_with_owner,
):
    tenant, _owner = tenant_with_owner()
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(tenant=tenant, name="bad", namespace="Bad_Name")
    Project.objects.create(tenant=tenant, name="ok", namespace="ok")
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(tenant=tenant, name="ok2", namespace="ok")


def test_selectors_hide_other_tenants_projects_as_404(tenant_with_owner):
    acme, acme_owner = tenant_with_owner("acme")
    globex, globex_owner = tenant_with_owner("globex")
    theirs = services.create_project(actor=globex_owner, tenant=globex, name="g", namespace="g")
    mine = services.create_project(actor=acme_owner, tenant=acme, name="a", namespace="a")
    assert list(selectors.projects_for(user=acme_owner)) == [mine]
    with pytest.raises(NotFound):
        selectors.get_project_for(user=acme_owner, project_id=theirs.pk)
    with pytest.raises(NotFound):
        selectors.get_tenant_for(user=acme_owner, tenant_id=globex.pk)


def test_platform_admin_is_a_group_permission_not_a_superuser_flag(make_user):
    user = make_user("root-ish")
    assert not is_platform_admin(user)
    services.grant_platform_admin(user=user)
    user = type(user).objects.get(pk=user.pk)  # drop the permission cache
    assert not user.is_superuser
    assert is_platform_admin(user)


def test_tenant_creation_makes_the_creator_owner(make_user):
    owner = make_user("carol")
    tenant = services.create_tenant(name="Carol Corp", owner=owner, is_provider=True)
    assert tenant.slug == "carol-corp"
    assert Membership.objects.get(tenant=tenant).role == Membership.Role.OWNER
