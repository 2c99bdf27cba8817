"""资产镜像安全扫描结果: a version's images from its bundle, Trivy reports onto them (upload,
API, scanner command), shown per severity, and LISTING_MAX_SEVERITY's approval gate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from assets import tasks
from assets.models import ImageScan, VersionImage
from assets.trivy import ReportError, parse_report
from clusters.bundle_images import images_from_csv
from tests.assets.scan_fixtures import (
    CATALOG,
    MCROUTER,
    MEMCACHED,
    OPERATOR,
    raw,
    report,
    seed_channels,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
FAKE_TRIVY = ROOT / "tests" / "fixtures" / "fake_trivy.py"


@pytest.fixture
def scanned_version(provider, make_asset, make_catalog, make_version):
    asset = make_asset(provider)
    catalog = make_catalog(provider, channels=seed_channels())
    return make_version(asset, catalog=catalog)


# --- the images ------------------------------------------------------------------------------


def test_images_of_a_real_community_csv():
    """The community memcached-operator bundle: its deployment's container is the operator,
    its relatedImages entry `memcached` an operand."""
    path = ROOT / "sandbox/catalogs/community/memcached-operator/0.0.2/manifests"
    csv = yaml.safe_load((path / "memcached-operator.clusterserviceversion.yaml").read_text())
    assert images_from_csv(csv) == [
        {
            "name": "memcached-operator-controller-manager",
            "reference": "quay.io/example/memcached-operator:v0.0.2",
            "digest": "",
            "role": "operator",
        },
        {
            "name": "memcached",
            "reference": "memcached:1.6.26-alpine3.19",
            "digest": "",
            "role": "operand",
        },
    ]


def test_pinned_digest_and_roles_from_names():
    digest = "sha256:" + "a" * 64
    csv = {
        "spec": {
            "install": {
                "spec": {
                    "deployments": [
                        {
                            "name": "op",
                            "spec": {
                                "template": {
                                    "spec": {
                                        "containers": [
                                            {
                                                "name": "kube-rbac-proxy",
                                                "image": "gcr.io/kubebuilder/kube-rbac-proxy:v0.15.0",
                                            },
                                            {"name": "manager", "image": f"quay.io/x/op@{digest}"},
                                        ]
                                    }
                                }
                            },
                        }
                    ]
                }
            },
            "relatedImages": [
                {"name": "mcrouter", "image": "quay.io/x/mcrouter:v1"},
                {"name": "manager", "image": f"quay.io/x/op@{digest}"},
            ],
        }
    }
    rows = {i["reference"]: i for i in images_from_csv(csv)}
    assert rows[f"quay.io/x/op@{digest}"]["digest"] == digest
    assert rows[f"quay.io/x/op@{digest}"]["role"] == "operator"
    assert rows["gcr.io/kubebuilder/kube-rbac-proxy:v0.15.0"]["role"] == "proxy"
    assert rows["quay.io/x/mcrouter:v1"]["role"] == "router"
    assert len(rows) == 3


def test_a_version_gets_the_bundle_images_and_its_catalog_image(scanned_version):
    images = list(scanned_version.images.all())
    assert [(i.reference, i.role) for i in images] == [
        (OPERATOR, "operator"),
        (MCROUTER, "router"),
        (MEMCACHED, "operand"),
        (CATALOG, "catalog"),
    ]
    assert not ImageScan.objects.exists()


# --- the parser ------------------------------------------------------------------------------


def test_parser_reads_a_real_shaped_report():
    parsed = parse_report(raw(report(OPERATOR, "LOW", "CRITICAL", "HIGH")), max_bytes=10**6)
    assert parsed.artifact_name == OPERATOR
    assert parsed.image_id.startswith("sha256:03d0effeed75")
    assert parsed.counts() == {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 0, "HIGH": 1, "CRITICAL": 1}
    assert [f["severity"] for f in parsed.findings] == ["CRITICAL", "HIGH", "LOW"]
    first = parsed.findings[0]
    assert (first["pkg"], first["installed"], first["fixed"]) == (
        "libcrypto3",
        "3.1.2-r0",
        "3.1.4-r1",
    )


def test_parser_reads_a_clean_report_without_results():
    clean = report(MEMCACHED)
    del clean["Results"]
    assert parse_report(raw(clean), max_bytes=10**6).findings == []
    clean = report(MEMCACHED)
    clean["Results"][0]["Vulnerabilities"] = None
    assert parse_report(raw(clean), max_bytes=10**6).counts()["HIGH"] == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (raw(report(OPERATOR, SchemaVersion=1)), "SchemaVersion"),
        (raw(report(OPERATOR, ArtifactType="filesystem")), "ArtifactType"),
        (raw(report(OPERATOR, ArtifactName="")), "ArtifactName"),
        (raw(report(OPERATOR, "SEVERE")), "Severity"),
        (raw(report(OPERATOR, Results={"x": 1})), "Results must be a list"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_parser_refuses_malformed_reports(body, says):
    with pytest.raises(ReportError, match=says) as refused:
        parse_report(body, max_bytes=10**6)
    assert refused.value.kind == "invalid"


def test_parser_refuses_an_oversized_report():
    body = raw(report(OPERATOR, "LOW"))
    with pytest.raises(ReportError) as refused:
        parse_report(body, max_bytes=len(body) - 1)
    assert refused.value.kind == "too_large"


# --- upload in the portal --------------------------------------------------------------------


def _upload(client, version, body, name="report.json"):
    url = f"/provider/assets/{version.asset.code}/versions/{version.pk}/scans/"
    return client.post(url, {"report": SimpleUploadedFile(name, body, "application/json")})


def test_portal_upload_records_the_scan_and_shows_it(client, provider, scanned_version):
    client.force_login(provider.owner)
    response = _upload(client, scanned_version, raw(report(OPERATOR, "CRITICAL", "HIGH", "HIGH")))
    assert response.status_code == 302
    scan = ImageScan.objects.get()
    assert (scan.image.reference, scan.critical, scan.high, scan.source) == (
        OPERATOR,
        1,
        2,
        "upload",
    )
    page = client.get(response.url).content.decode()
    assert "CRITICAL 1" in page and "HIGH 2" in page and page.count("Not scanned") == 3
    assert "03d0effeed75" in page  # 镜像id, as docker prints it


@pytest.mark.parametrize(
    ("body", "code_says"),
    [
        (b"{oops", "not JSON"),
        (raw(report(OPERATOR, "BAD")), "Severity"),
        (raw(report("quay.io/someone/else:v1", "LOW")), "not an image of this version"),
    ],
)
def test_portal_upload_refuses_bad_reports_and_stores_nothing(
    client, provider, scanned_version, body, code_says
):
    client.force_login(provider.owner)
    response = _upload(client, scanned_version, body)
    assert response.status_code == 400
    assert code_says in response.content.decode()
    assert not ImageScan.objects.exists()


def test_portal_upload_refuses_an_oversized_report(client, provider, scanned_version, settings):
    settings.IMAGE_SCAN_REPORT_MAX_BYTES = 200
    client.force_login(provider.owner)
    response = _upload(client, scanned_version, raw(report(OPERATOR, "LOW")))
    assert response.status_code == 400
    assert "at most 200 are accepted" in response.content.decode()
    assert not ImageScan.objects.exists()


def test_another_tenant_cannot_see_or_upload(client, other_provider, scanned_version):
    client.force_login(other_provider.owner)
    assert _upload(client, scanned_version, raw(report(OPERATOR))).status_code == 404
    image = scanned_version.images.first()
    url = f"/market/{scanned_version.asset.code}/images/{image.pk}/"
    assert client.get(url).status_code == 404  # a draft's images are not public


# --- the API ---------------------------------------------------------------------------------


def test_api_upload_as_json_and_multipart_then_list_and_findings(provider, scanned_version):
    api = APIClient()
    api.force_authenticate(provider.owner)
    base = f"/api/v1/versions/{scanned_version.pk}/"
    created = api.post(base + "scans/", report(OPERATOR, "CRITICAL", "MEDIUM"), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["scan"]["counts"]["CRITICAL"] == 1
    upload = SimpleUploadedFile("r.json", raw(report(MCROUTER)), "application/json")
    assert api.post(base + "scans/", {"report": upload}, format="multipart").status_code == 201
    images = api.get(base + "images/").json()
    by_ref = {i["reference"]: i for i in images}
    assert by_ref[OPERATOR]["scan"]["source"] == "api"
    assert by_ref[MCROUTER]["scan"]["counts"] == {
        "CRITICAL": 0,
        "HIGH": 0,
        "MEDIUM": 0,
        "LOW": 0,
        "UNKNOWN": 0,
    }
    assert by_ref[MEMCACHED]["scan"] is None  # not scanned
    findings = api.get(base + f"images/{by_ref[OPERATOR]['id']}/findings/").json()
    assert [f["severity"] for f in findings["results"]] == ["CRITICAL", "MEDIUM"]
    assert findings["results"][0]["fixed"] == "3.1.4-r1"


def test_api_refuses_bad_reports_with_codes(provider, scanned_version, settings):
    api = APIClient()
    api.force_authenticate(provider.owner)
    url = f"/api/v1/versions/{scanned_version.pk}/scans/"
    bad = api.post(url, report(OPERATOR, SchemaVersion=3), format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "scan_report_invalid")
    foreign = api.post(url, report("docker.io/library/alpine:3.10"), format="json")
    assert foreign.json()["code"] == "scan_report_no_image"
    settings.IMAGE_SCAN_REPORT_MAX_BYTES = 100
    big = api.post(url, report(OPERATOR), format="json")
    assert (big.status_code, big.json()["code"]) == (400, "scan_report_too_large")
    assert not ImageScan.objects.exists()


# --- the scanner command ---------------------------------------------------------------------


def test_scanner_command_scans_each_image(scanned_version, settings):
    settings.IMAGE_SCANNER_COMMAND = (
        f"{sys.executable} {FAKE_TRIVY} --format json --quiet {{image}}"
    )
    assert tasks.scan_version_images(scanned_version.pk) == 4
    scans = {s.image.reference: s for s in ImageScan.objects.select_related("image")}
    assert (scans[OPERATOR].critical, scans[OPERATOR].high, scans[OPERATOR].source) == (
        1,
        1,
        "scanner",
    )
    assert scans[MEMCACHED].worst == ""


def test_scanner_failure_keeps_the_image_not_scanned_with_why(scanned_version, settings):
    VersionImage.objects.filter(reference=MEMCACHED).update(reference="quay.io/unreachable/x:1")
    settings.IMAGE_SCANNER_COMMAND = f"{sys.executable} {FAKE_TRIVY} {{image}}"
    assert tasks.scan_version_images(scanned_version.pk) == 3
    failed = VersionImage.objects.get(reference="quay.io/unreachable/x:1")
    assert "exited with 1" in failed.scan_error and "unable to find" in failed.scan_error
    assert not ImageScan.objects.filter(image=failed).exists()


def test_scanner_is_off_by_default(scanned_version, settings):
    assert settings.IMAGE_SCANNER_COMMAND == ""
    assert tasks.scan_version_images(scanned_version.pk) == 0


def test_scanner_argv_never_goes_through_a_shell():
    assert tasks.scanner_argv("trivy image --format json {image}", "a;rm -rf /") == [
        "trivy",
        "image",
        "--format",
        "json",
        "a;rm -rf /",
    ]


def test_creating_a_version_enqueues_the_scanner_when_configured(
    provider, make_asset, make_catalog, make_version, settings, django_capture_on_commit_callbacks
):
    settings.IMAGE_SCANNER_COMMAND = f"{sys.executable} {FAKE_TRIVY} {{image}}"
    catalog = make_catalog(provider, channels=seed_channels())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        version = make_version(make_asset(provider), catalog=catalog)
    assert len(callbacks) == 1  # one job per version, sent once the version is committed
    assert ImageScan.objects.filter(image__version=version, source="scanner").count() == 4


def test_the_image_list_and_scan_page_cost_a_fixed_number_of_queries(
    client, provider, scanned_version, django_assert_max_num_queries
):
    api = APIClient()
    api.force_authenticate(provider.owner)
    client.force_login(provider.owner)
    url = f"/api/v1/versions/{scanned_version.pk}/images/"
    page = f"/provider/assets/{scanned_version.asset.code}/versions/{scanned_version.pk}/scans/"
    with django_assert_max_num_queries(6) as api_few:
        api.get(url)
    api_count = len(api_few.captured_queries)  # read now: the next request resets the log
    with django_assert_max_num_queries(20) as page_few:
        client.get(page)
    page_count = len(page_few.captured_queries)
    for image in (OPERATOR, MCROUTER, MEMCACHED, CATALOG):
        api.post(
            f"/api/v1/versions/{scanned_version.pk}/scans/", report(image, "LOW"), format="json"
        )
    with django_assert_max_num_queries(api_count):
        assert len(api.get(url).json()) == 4
    with django_assert_max_num_queries(page_count):
        assert client.get(page).content.decode().count("LOW 1") == 4
