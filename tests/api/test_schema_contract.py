"""The API answers what its OpenAPI document says, for every operation and every demo role.

Schemathesis generates requests from the schema the app serves (in-process, over WSGI) and
checks each answer: no 5xx, a status the operation documents, the documented content type,
and a body that matches the documented schema. On top: every timestamp is UTC (`Z`).

Each role (anonymous, buyer, provider, platform admin) runs every operation on the seeded
demo data, a bounded number of generated examples each, plus (for a detail route) the same
with the id of an object the role can see, so 200 bodies are checked, not only 404s. Every
example runs in a savepoint rolled back afterwards: a DELETE never changes what the next
example finds. The database work runs in one transaction per role, so work a service hands
to the worker "on commit" is never started (the contract is the HTTP answer; the worker's
flows have their own tests)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import SANDBOX_TOKEN

# django_db: each role's run in its own transaction, inside the module's (the seed's).
pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MAX_EXAMPLES = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = {"anonymous": None, "buyer": "buyer", "provider": "provider", "admin": "admin"}
# An ISO 8601 moment with a UTC offset written out (`+08:00`, `+00:00`): not how the API
# writes one (`…Z`).
OFFSET_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?[+-]\d{2}:?\d{2}$")


def _api_schema() -> dict[str, Any]:
    """The document /api/schema/ serves, as JSON (what a client downloads)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


def _offset_moments(value: Any, where: str = "$") -> list[str]:
    if isinstance(value, dict):
        return [m for k, v in value.items() for m in _offset_moments(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [m for i, v in enumerate(value) for m in _offset_moments(v, f"{where}[{i}]")]
    if isinstance(value, str) and OFFSET_MOMENT.match(value):
        return [f"{where} = {value}"]
    return []


@contextmanager
def _connection_kept():
    """No per-request connection closing around a request (as Django's test client does):
    the test's transaction must outlive it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def wsgi_app():
    """The real WSGI app, as a server runs it."""
    return get_wsgi_application()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, sandbox):
    """The demo seed, once for the module (its cluster the test session's sandbox), in a
    transaction rolled back at the end: no later test sees it."""
    environ = {"SANDBOX_PORT": sandbox.url.rsplit(":", 1)[1], "SANDBOX_TOKEN": SANDBOX_TOKEN}
    with pytest.MonkeyPatch.context() as patch, django_db_blocker.unblock():
        for name, value in environ.items():
            patch.setenv(name, value)
        patch.delenv("SANDBOX_CA_FILE", raising=False)
        with transaction.atomic():
            call_command("seed_demo", verbosity=0)
            yield
            transaction.set_rollback(True)


def _headers_for(role: str) -> dict[str, str]:
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    username = ROLES[role]
    if username is None:
        return {}
    token, _created = Token.objects.get_or_create(user=User.objects.get(username=username))
    return {"Authorization": f"Token {token.key}"}


def _visible_ids(headers: dict[str, str], schema: Any) -> dict[str, str]:
    """Per resource, the id (or code) of one object the role sees in its list."""
    from django.test import Client

    client = Client()
    ids = {}
    for path in schema.raw_schema["paths"]:
        match = re.fullmatch(r"/api/v1/([^/{}]+)/\{(\w+)\}/", path)
        if not match:
            continue
        resource, key = match.groups()
        response = client.get(f"/api/v1/{resource}/", headers=headers)
        if response.status_code != 200:
            continue
        body = response.json()
        results = body.get("results", body) if isinstance(body, dict) else body
        if results and isinstance(results, list) and key in ("id", "code"):
            first = results[0]
            value = first.get(key, first.get("id"))
            if value is not None:
                ids[resource] = str(value)
    return ids


def _run_operation(
    operation: Any, *, wsgi_app: Any, headers: dict[str, str], path_parameters: Any
) -> list[str]:
    failures: list[str] = []
    strategy = operation.as_strategy(path_parameters=path_parameters)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        if failures:
            return  # one failure per operation is enough to report
        sid = transaction.savepoint()
        try:
            with _connection_kept():
                response = case.call(app=wsgi_app, headers=headers)
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as exc:  # failed checks: report them with what was sent
                failures.append(
                    f"{operation.label}: {response.status_code} {type(exc).__name__}: "
                    f"{str(exc)[:600]}\n    sent: {case.as_curl_command()[:400]}"
                )
                return
            content_type = (response.headers.get("content-type") or [""])[0]
            if content_type.startswith("application/json"):
                moments = _offset_moments(response.json())
                if moments:
                    failures.append(f"{operation.label}: not UTC `Z`: {moments[:3]}")
        finally:
            transaction.savepoint_rollback(sid)

    run()
    return failures


@pytest.mark.parametrize("role", list(ROLES))
def test_every_operation_answers_as_documented(role, demo, wsgi_app):
    schema = schemathesis.openapi.from_dict(_api_schema())
    headers = _headers_for(role)
    visible = _visible_ids(headers, schema)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 90
    for operation in operations:
        failures += _run_operation(
            operation, wsgi_app=wsgi_app, headers=headers, path_parameters=None
        )
        resource = operation.path.split("/")[3]
        key = next(iter(p.name for p in operation.path_parameters), None)
        if key and resource in visible:
            failures += _run_operation(
                operation,
                wsgi_app=wsgi_app,
                headers=headers,
                path_parameters={key: visible[resource]},
            )
    assert not failures, f"{len(failures)} contract failures as {role}:\n" + "\n".join(failures)
