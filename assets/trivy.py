"""Pure: reading Trivy's JSON report (`trivy image --format json`), checked before use.

The shape is Trivy's `types.Report` (pkg/types/report.go): `SchemaVersion` 2,
`ArtifactName`, `ArtifactType` ("container_image"), `Metadata` {`ImageID`,
`RepoTags`, `RepoDigests`, …}, `Results` [{`Target`, `Class`, `Type`,
`Vulnerabilities` [{`VulnerabilityID`, `PkgName`, `InstalledVersion`, `FixedVersion`,
`Severity`, `Title`, `PrimaryURL`, …}]}]. `Results` and `Vulnerabilities` are omitted
or null when there is nothing to report. Anything else is refused with the reason, so
nothing half-read is ever stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .models import SEVERITIES

SCHEMA_VERSION = 2
# Findings kept per image: a report with more is refused (bounded storage and pages).
MAX_FINDINGS = 5000


class ReportError(ValueError):
    """A report we refuse; `kind` is "too_large" or "invalid"."""

    def __init__(self, message: str, *, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class TrivyReport:
    artifact_name: str
    image_id: str
    repo_tags: list[str]
    repo_digests: list[str]
    created_at: datetime | None
    findings: list[dict[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            out[finding["severity"]] += 1
        return out


def _text(value: Any, where: str, *, required: bool = False, limit: int = 500) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ReportError(_("%(where)s must be a non-empty string.") % {"where": where})
    return value[:limit]


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReportError(_("%(where)s must be a list of strings.") % {"where": where})
    return [v[:500] for v in value]


def parse_report(raw: bytes, *, max_bytes: int) -> TrivyReport:
    """The report in `raw`, or ReportError naming the first thing wrong with it."""
    if len(raw) > max_bytes:
        raise ReportError(
            _("The report is %(size)s bytes; at most %(max)s are accepted.")
            % {"size": len(raw), "max": max_bytes},
            kind="too_large",
        )
    if not raw.strip():
        raise ReportError(_("The report is empty."))
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportError(
            _(
                "The report is not JSON (%(error)s); upload the output of `trivy image --format json`."
            )
            % {"error": str(exc)[:200]}
        ) from None
    if not isinstance(data, dict):
        raise ReportError(_("The report must be a JSON object, as Trivy writes it."))
    if data.get("SchemaVersion") != SCHEMA_VERSION:
        raise ReportError(
            _("SchemaVersion is %(found)s; only Trivy's schema version 2 is read.")
            % {"found": json.dumps(data.get("SchemaVersion"))[:40]}
        )
    artifact_type = data.get("ArtifactType")
    if artifact_type not in (None, "container_image"):
        raise ReportError(
            _("ArtifactType is %(found)s; only container image reports (trivy image) are read.")
            % {"found": json.dumps(artifact_type)[:60]}
        )
    artifact_name = _text(data.get("ArtifactName"), "ArtifactName", required=True)
    metadata = data.get("Metadata") or {}
    if not isinstance(metadata, dict):
        raise ReportError(_("Metadata must be an object."))
    results = data.get("Results") or []
    if not isinstance(results, list):
        raise ReportError(_("Results must be a list."))
    findings: list[dict[str, str]] = []
    for r, result in enumerate(results):
        if not isinstance(result, dict):
            raise ReportError(_("Results[%(i)s] must be an object.") % {"i": r})
        target = _text(result.get("Target"), f"Results[{r}].Target")
        vulnerabilities = result.get("Vulnerabilities") or []
        if not isinstance(vulnerabilities, list):
            raise ReportError(_("Results[%(i)s].Vulnerabilities must be a list.") % {"i": r})
        for v, vuln in enumerate(vulnerabilities):
            where = f"Results[{r}].Vulnerabilities[{v}]"
            if not isinstance(vuln, dict):
                raise ReportError(_("%(where)s must be an object.") % {"where": where})
            severity = vuln.get("Severity")
            if severity not in SEVERITIES:
                raise ReportError(
                    _("%(where)s.Severity is %(found)s; Trivy's severities are %(known)s.")
                    % {
                        "where": where,
                        "found": json.dumps(severity)[:40],
                        "known": ", ".join(SEVERITIES),
                    }
                )
            findings.append(
                {
                    "id": _text(
                        vuln.get("VulnerabilityID"),
                        f"{where}.VulnerabilityID",
                        required=True,
                        limit=100,
                    ),
                    "pkg": _text(vuln.get("PkgName"), f"{where}.PkgName", required=True, limit=200),
                    "installed": _text(
                        vuln.get("InstalledVersion"), f"{where}.InstalledVersion", limit=100
                    ),
                    "fixed": _text(vuln.get("FixedVersion"), f"{where}.FixedVersion", limit=200),
                    "severity": severity,
                    "title": _text(vuln.get("Title"), f"{where}.Title", limit=300),
                    "url": _url(vuln.get("PrimaryURL")),
                    "target": target,
                }
            )
            if len(findings) > MAX_FINDINGS:
                raise ReportError(
                    _("The report has more than %(max)s findings.") % {"max": MAX_FINDINGS},
                    kind="too_large",
                )
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: (order[f["severity"]], f["id"], f["pkg"]))
    created = data.get("CreatedAt")
    return TrivyReport(
        artifact_name=artifact_name,
        image_id=_text(metadata.get("ImageID"), "Metadata.ImageID", limit=100),
        repo_tags=_strings(metadata.get("RepoTags"), "Metadata.RepoTags"),
        repo_digests=_strings(metadata.get("RepoDigests"), "Metadata.RepoDigests"),
        created_at=parse_datetime(created) if isinstance(created, str) else None,
        findings=findings,
    )


def _url(value: Any) -> str:
    """Only http(s) links are kept: the findings page makes them clickable."""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value[:500]
    return ""


def _normal(reference: str) -> str:
    """`docker.io/library/alpine:3` and `alpine:3` name the same image."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "library/"):
        if reference.startswith(prefix):
            return reference[len(prefix) :]
    return reference


def names_of(report: TrivyReport) -> set[str]:
    """Every reference the report says it scanned (name, tags, repo digests)."""
    return {_normal(n) for n in [report.artifact_name, *report.repo_tags, *report.repo_digests]}


def matches(report: TrivyReport, *, reference: str, digest: str) -> bool:
    """Whether the report is of this image: by name/tag, or by the pinned digest."""
    names = names_of(report)
    if _normal(reference) in names:
        return True
    if digest:
        repository = _normal(reference.split("@", 1)[0])
        return any(n.split("@", 1)[0] == repository and n.endswith("@" + digest) for n in names)
    return False
