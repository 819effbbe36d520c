"""A report job: what the request path hands to report production, captured once and never changed.

The request path only answers the sender; everything a report needs beyond the answer (every
check, the duplicate ``X-Request-Id`` claim, the record, the index) is done from this job by the
report worker (:mod:`tkw.reports.production`). In-process the job object itself is handed over; on
AWS it travels as one SQS message (:meth:`ReportJob.to_message`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tkw.encoded_headers import ODS_CODE, HeaderError, decode_end_user_organisation
from tkw.http import ApiRequest, ApiResponse
from tkw.routes import Operation

if TYPE_CHECKING:
    from tkw.reports.model import ResponseLink
    from tkw.validation.findings import Finding

# Version 2 carries the bodies after the JSON line, as they are, wherever that is safe (see
# ReportJob.to_message); version 1 (everything inside the JSON, the request body base64) still reads.
MESSAGE_VERSION = 2
_READABLE_VERSIONS = (1, 2)
# What an SQS message holds exactly, needing no escaping: printable ASCII, tab, newline (no carriage
# return: XML transports may turn CR LF into LF). A body with anything else travels inside the line.
_NOT_AS_IS = re.compile(r"[^\t\n\x20-\x7e]")
ORGANISATION_HEADER = "NHSD-End-User-Organisation"
# The organisation a report is filed under when NHSD-End-User-Organisation gave no usable ODS code.
# It is not a valid ODS code, so no sender can ask the reports API for it (see ``tkw.reports.api``).
UNIDENTIFIED_ORGANISATION = "_UNIDENTIFIED"


def report_organisation(request: ApiRequest) -> str:
    """The ODS code a request's report is filed under; UNIDENTIFIED_ORGANISATION when there is none."""
    raw = request.header(ORGANISATION_HEADER)
    if not raw:
        return UNIDENTIFIED_ORGANISATION
    try:
        ods = decode_end_user_organisation(raw)
    except HeaderError:
        return UNIDENTIFIED_ORGANISATION
    return ods if ODS_CODE.match(ods) else UNIDENTIFIED_ORGANISATION


def new_report_id(now: float | None = None) -> str:
    """A UUID version 7: random, and its first 48 bits are the issue time (ms), so a reader can
    tell an id that was just issued (its report may still be in production) from an unknown one."""
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def issued_at(report_id: str) -> float | None:
    """When a report id from :func:`new_report_id` was issued (epoch seconds); None for other ids."""
    try:
        value = uuid.UUID(report_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return (value.int >> 80) / 1000


@dataclass(frozen=True, slots=True)
class ReportJob:
    report_id: str
    organisation: str  # ODS code the report is filed under (or UNIDENTIFIED_ORGANISATION)
    received: float  # the emulator's clock when the request arrived (epoch seconds)
    operation: Operation
    request: ApiRequest
    response: ApiResponse  # the answer as sent, echo headers and TKW-Report-Id included
    scenario: str | None = None
    # The body parsed and structure-checked at admission (None: refused before that, or not a message).
    bundle: dict[str, Any] | None = None
    # Strict mode decides the answer from the checks, so they ran on the request path already.
    findings: tuple[Finding, ...] | None = None
    # The async responses a Response sentinel queued (issue 15): the report lists them.
    responses: tuple[ResponseLink, ...] = ()

    def to_message(self) -> str:
        """The SQS message body: one JSON line, then the bodies that can travel as they are.

        The response body (an answer's JSON text, mostly) and an admitted request body (JSON, hence
        valid UTF-8) follow the line unescaped when they are printable ASCII, their lengths in the
        line: escaping them into JSON (or the request body into base64) and back cost the request
        path and the report worker more than the rest of the message. Otherwise they travel inside
        the line as version 1 had them (the request body base64: it may not be UTF-8).
        """
        request, response = self.request, self.response
        response_text = response.body_text() if response.body is not None else None
        trailing: list[str] = []
        framed: dict[str, int] = {}
        if response_text is not None and not _NOT_AS_IS.search(response_text):
            framed["response"] = len(response_text)
            trailing.append(response_text)
            response_text = None
        request_body: str | None = None
        if request.body is not None:
            # Admitted: JSON, so no control characters but white space.
            if self.bundle is not None and request.body.isascii() and b"\r" not in request.body:
                framed["request"] = len(request.body)
                trailing.append(request.body.decode("ascii"))
            else:
                request_body = base64.b64encode(request.body).decode()
        data: dict[str, Any] = {
            "v": MESSAGE_VERSION,
            "report_id": self.report_id,
            "organisation": self.organisation,
            "received": self.received,
            "operation": str(self.operation),
            "scenario": self.scenario,
            "admitted_body": self.bundle is not None,
            "request": {
                "method": request.method,
                "path": request.path,
                "headers": {k: list(v) for k, v in request.headers.items()},
                "query": {k: list(v) for k, v in request.query.items()},
                "path_params": dict(request.path_params),
                "body": request_body,
                "base_url": request.base_url,
                "request_time_epoch_ms": request.request_time_epoch_ms,
            },
            "response": {
                "status": response.status,
                "content_type": response.content_type,
                "headers": dict(response.headers),
                "body": response_text,
            },
            "framed": framed,
        }
        if self.findings is not None:
            data["findings"] = [f.model_dump(mode="json") for f in self.findings]
        if self.responses:
            data["responses"] = [link.model_dump(mode="json") for link in self.responses]
        # json.dumps escapes every newline inside the line: the first newline ends it.
        return "\n".join([json.dumps(data, separators=(",", ":")), "".join(trailing)])

    @classmethod
    def from_message(cls, text: str) -> ReportJob:
        from tkw.reports.model import ResponseLink  # the model imports new_report_id from here
        from tkw.validation.findings import Finding  # the worker's side: the API never reads a job

        line, _, trailing = text.partition("\n")
        data = json.loads(line)
        if data.get("v") not in _READABLE_VERSIONS:
            raise ValueError(f"report job message version {data.get('v')!r} is not one of {_READABLE_VERSIONS}")
        raw, answer = data["request"], data["response"]
        framed: dict[str, int] = data.get("framed") or {}
        if len(trailing) != sum(framed.values()):
            raise ValueError("report job message: the bodies after its first line do not match their lengths")
        response_body = answer["body"]
        if "response" in framed:
            response_body, trailing = trailing[: framed["response"]], trailing[framed["response"] :]
        body: bytes | None
        if "request" in framed:
            body, trailing = trailing[: framed["request"]].encode("ascii"), trailing[framed["request"] :]
        else:
            body = None if raw["body"] is None else base64.b64decode(raw["body"])
        request = ApiRequest(
            method=raw["method"],
            path=raw["path"],
            headers={k: tuple(v) for k, v in raw["headers"].items()},
            query={k: tuple(v) for k, v in raw["query"].items()},
            path_params=dict(raw["path_params"]),
            body=body,
            base_url=raw["base_url"],
            request_time_epoch_ms=int(raw["request_time_epoch_ms"]),
        )
        response = ApiResponse(
            status=int(answer["status"]),
            body=response_body,
            content_type=answer["content_type"],
            headers=dict(answer["headers"]),
        )
        findings: Sequence[dict[str, Any]] | None = data.get("findings")
        return cls(
            report_id=data["report_id"],
            organisation=data["organisation"],
            received=float(data["received"]),
            operation=Operation(data["operation"]),
            request=request,
            response=response,
            scenario=data.get("scenario"),
            # Admission parsed and checked it already: plain JSON is enough to read it again.
            bundle=json.loads(body) if data.get("admitted_body") and body is not None else None,
            findings=None if findings is None else tuple(Finding.model_validate(f) for f in findings),
            responses=tuple(ResponseLink.model_validate(link) for link in data.get("responses") or ()),
        )
