"""``python -m tkw_local.events``: (re)write events/, one API Gateway event per BaRS route.

Each event is a complete REST (v1) proxy event with the BaRS headers a sender must send, for
``sam local invoke -e events/<name>.json`` and for the functional tests.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tkw_local.functions import rest_proxy_event

ROOT = Path(__file__).resolve().parent.parent
BASE = "/booking-and-referral/FHIR/R4"
TARGET = "eyJzeXN0ZW0iOiJodHRwczovL2ZoaXIubmhzLnVrL0lkL2Rvcy1zZXJ2aWNlLWlkIiwidmFsdWUiOiIyMDAwMDExMTQ3In0="
ORGANISATION = (
    "eyJyZXNvdXJjZVR5cGUiOiJPcmdhbml6YXRpb24iLCJpZGVudGlmaWVyIjpbeyJzeXN0ZW0iOiJodHRwczovL2ZoaXIubmhzLnVr"
    "L0lkL29kcy1vcmdhbml6YXRpb24tY29kZSIsInZhbHVlIjoiQTEwMDEifV0sIm5hbWUiOiJNeSBzZXJ2aWNlIHByb3ZpZGVyIG5h"
    "bWUifQ=="
)


def bars_headers(extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    headers = {
        "Host": "127.0.0.1:3000",
        "Accept": "application/fhir+json;version=1.0.0",
        "X-Request-Id": str(uuid.UUID(int=1)),
        "X-Correlation-Id": str(uuid.UUID(int=2)),
        "NHSD-Target-Identifier": TARGET,
        "NHSD-End-User-Organisation": ORGANISATION,
        "X-Forwarded-Proto": "http",
        **(extra or {}),
    }
    return list(headers.items())


def _event(
    method: str,
    resource: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    params: dict[str, str] | None = None,
    body: bytes = b"",
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    return rest_proxy_event(
        method=method,
        path=BASE + path,
        resource=BASE + resource,
        path_parameters=params or {},
        headers=bars_headers(extra),
        query=query or [],
        body=body,
        stage="v1",
        source_ip="127.0.0.1",
    )


def _admin_event(
    method: str,
    path: str,
    resource: str | None = None,
    body: bytes = b"",
    params: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An event for the emulator's own endpoints (/tkw/..., /oauth2/token), organisation header included."""
    return rest_proxy_event(
        method=method,
        path=path,
        resource=resource or path,
        path_parameters=params or {},
        headers=bars_headers(extra),
        query=[],
        body=body,
        stage="v1",
        source_ip="127.0.0.1",
    )


def build_events(booking_body: bytes) -> dict[str, dict[str, Any]]:
    return {
        "ping": _event("GET", "/_ping", "/_ping"),
        "metadata": _event("GET", "/metadata", "/metadata"),
        "message_definition": _event(
            "GET",
            "/MessageDefinition",
            "/MessageDefinition",
            [("context", "https://fhir.nhs.uk/Id/dos-service-id|2000011147")],
        ),
        "slot": _event(
            "GET",
            "/Slot",
            "/Slot",
            [
                ("status", "free"),
                ("start", "ge2026-11-01T09:00:00+00:00"),
                ("start", "le2026-11-30T17:00:00+00:00"),
                ("Schedule.actor:HealthcareService", "2000072489"),
                ("_include", "Slot:schedule"),
                ("_include", "Schedule:actor:HealthcareService"),
            ],
        ),
        "process_message": _event(
            "POST",
            "/$process-message",
            "/$process-message",
            body=booking_body,
            extra={"Content-Type": "application/fhir+json", "use-context": "a1t1|booking|booking-request|new"},
        ),
        "appointment_search": _event(
            "GET",
            "/Appointment",
            "/Appointment",
            [("patient:identifier", "https://fhir.nhs.uk/Id/nhs-number|9054613556")],
        ),
        "appointment_read": _event(
            "GET",
            "/Appointment/{id}",
            "/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7",
            params={"id": "ce1c4ced-2a84-4198-9982-9caf894d0bb7"},
        ),
        "service_request_search": _event(
            "GET",
            "/ServiceRequest",
            "/ServiceRequest",
            [("patient:identifier", "https://fhir.nhs.uk/Id/nhs-number|9054613556")],
        ),
        "service_request_read": _event(
            "GET",
            "/ServiceRequest/{id}",
            "/ServiceRequest/79120f41-a431-4f08-bcc5-1e67006fcae0",
            params={"id": "79120f41-a431-4f08-bcc5-1e67006fcae0"},
        ),
        "token": _admin_event(
            "POST",
            "/oauth2/token",
            body=b"grant_type=client_credentials&client_assertion_type="
            b"urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=replace.with.jwt",
            extra={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        "apps_register": _admin_event(
            "POST",
            "/tkw/apps",
            body=json.dumps(
                {
                    "name": "My supplier app",
                    "ods_codes": ["A1001"],
                    "kid": "MySupplier-INT-1",
                    "public_key_pem": "-----BEGIN PUBLIC KEY-----\nreplace with yours\n-----END PUBLIC KEY-----\n",
                }
            ).encode(),
            extra={"Content-Type": "application/json"},
        ),
        "apps_read": _admin_event(
            "GET", "/tkw/apps/replace-with-api-key", "/tkw/apps/{api_key}", params={"api_key": "replace-with-api-key"}
        ),
        "apps_delete": _admin_event(
            "DELETE",
            "/tkw/apps/replace-with-api-key",
            "/tkw/apps/{api_key}",
            params={"api_key": "replace-with-api-key"},
        ),
        "reports_list": _admin_event("GET", "/tkw/reports"),
        "reports_read": _admin_event(
            "GET", "/tkw/reports/replace-with-report-id", "/tkw/reports/{id}", params={"id": "replace-with-report-id"}
        ),
        "reports_download": _admin_event(
            "GET",
            "/tkw/reports/replace-with-report-id/download",
            "/tkw/reports/{id}/download",
            params={"id": "replace-with-report-id"},
        ),
        "reports_zip": _admin_event(
            "POST", "/tkw/reports/download", body=b'{"ids": []}', extra={"Content-Type": "application/json"}
        ),
        "receiver_runs_start": _admin_event(
            "POST",
            "/tkw/receiver-runs",
            body=json.dumps(
                {
                    "endpoint": "https://receiver.example.nhs.uk/booking-and-referral/FHIR/R4",
                    "target_identifier": "2000011147",
                }
            ).encode(),
            extra={"Content-Type": "application/json"},
        ),
        "receiver_runs_list": _admin_event("GET", "/tkw/receiver-runs"),
        "receiver_runs_read": _admin_event(
            "GET",
            "/tkw/receiver-runs/replace-with-run-id",
            "/tkw/receiver-runs/{run_id}",
            params={"run_id": "replace-with-run-id"},
        ),
        "receiver_suite": _admin_event("GET", "/tkw/receiver-suite"),
        "state_get": _admin_event("GET", "/tkw/state"),
        "state_reset": _admin_event("DELETE", "/tkw/state"),
        "endpoints_list": _admin_event("GET", "/tkw/endpoints"),
        "endpoints_put": _admin_event(
            "PUT",
            "/tkw/endpoints/2000072489",
            "/tkw/endpoints/{service_id}",
            body=json.dumps({"url": "http://127.0.0.1:8080/booking-and-referral/FHIR/R4"}).encode(),
            params={"service_id": "2000072489"},
            extra={"Content-Type": "application/json"},
        ),
        "endpoints_delete": _admin_event(
            "DELETE", "/tkw/endpoints/2000072489", "/tkw/endpoints/{service_id}", params={"service_id": "2000072489"}
        ),
        "endpoints_ping": _admin_event(
            "POST",
            "/tkw/endpoints/2000072489/ping",
            "/tkw/endpoints/{service_id}/ping",
            params={"service_id": "2000072489"},
        ),
        "responses_send": _admin_event(
            "POST",
            "/tkw/responses",
            body=json.dumps({"report_id": "00000000-0000-0000-0000-000000000099", "kind": "full"}).encode(),
            extra={"Content-Type": "application/json"},
        ),
        "portal_page": _admin_event("GET", "/tkw/portal", extra={"Accept": "text/html"}),
        "portal_asset": _admin_event(
            "GET", "/tkw/portal/portal.js", "/tkw/portal/{asset}", params={"asset": "portal.js"}
        ),
        "organisations": _admin_event("GET", "/tkw/organisations"),
        "shares_create": _admin_event(
            "POST",
            "/tkw/reports/replace-with-report-id/share",
            "/tkw/reports/{id}/share",
            params={"id": "replace-with-report-id"},
        ),
        "shares_zip": _admin_event(
            "POST",
            "/tkw/reports/share",
            body=b'{"ids": ["replace-with-report-id"]}',
            extra={"Content-Type": "application/json"},
        ),
        "shares_list": _admin_event("GET", "/tkw/shares"),
        "shares_revoke": _admin_event(
            "DELETE",
            "/tkw/shares/replace-with-share-id",
            "/tkw/shares/{token}",
            params={"token": "replace-with-share-id"},
        ),
        "shares_open": _admin_event(
            "GET", "/tkw/shared/replace-with-token", "/tkw/shared/{token}", params={"token": "replace-with-token"}
        ),
        "fallback": _event(
            "DELETE", "/{proxy+}", "/Patient/1", params={"proxy": "booking-and-referral/FHIR/R4/Patient/1"}
        ),
    }


def main() -> None:
    booking = (ROOT / "tests" / "fixtures" / "booking-request.json").read_bytes()
    out = ROOT / "events"
    out.mkdir(exist_ok=True)
    for name, event in build_events(booking).items():
        # Fixed ids keep the files stable across regenerations.
        event["requestContext"]["requestId"] = str(uuid.UUID(int=3))
        event["requestContext"]["requestTimeEpoch"] = 1764000000000
        event["requestContext"]["requestTime"] = "24/Nov/2025:16:00:00 +0000"
        (out / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")
        print(f"events/{name}.json")


if __name__ == "__main__":
    main()
