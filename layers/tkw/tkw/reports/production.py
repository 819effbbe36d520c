"""Report production: the report worker's work, off the sender's request path.

For a batch of :class:`~tkw.reports.job.ReportJob`: check the batch's ``X-Request-Id`` claims at
once (a reuse within 24 h is a finding), run every TKW check of each job, build the records; then
store the records and the new claims in one go. Writes are keyed by report id, so a redelivered job
rewrites the same items (idempotent), and a claim made by the same report id is not a reuse.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tkw.content_memo import ContentMemo
from tkw.encoded_headers import HeaderError, decode_target_identifier
from tkw.http import ApiRequest
from tkw.reports.job import UNIDENTIFIED_ORGANISATION, ReportJob
from tkw.reports.model import ReportRecord, build_report
from tkw.reports.store import ReportStore, RequestIdClaim
from tkw.routes import Operation
from tkw.validation import Finding, ValidationInput, validate
from tkw.validation.profile import profile_findings

logger = logging.getLogger(__name__)


def checks(job: ReportJob, seen_before: bool) -> list[Finding]:
    """Every TKW check on the job's request (findings only change the answer in strict mode)."""
    header = job.request.header("NHSD-Target-Identifier")
    try:
        target = decode_target_identifier(header) if header else None
    except HeaderError:
        target = None  # its finding says why
    return validate(
        ValidationInput(
            operation=job.operation,
            request=job.request,
            body=job.bundle,
            target=target,
            seen_before=seen_before,
            structure_validated=job.bundle is not None,
        )
    )


def profile_findings_of(operation: Operation, request: ApiRequest, bundle: dict[str, Any] | None) -> list[Finding]:
    """Profile findings on the message (or resource) the sender sent; none for a body that is not one.

    Run by the report worker, off the sender's path; on the path only in strict mode, where they
    decide the answer. A $process-message body counts only once admission parsed it (``bundle``).
    """
    body = bundle
    if operation is not Operation.PROCESS_MESSAGE and request.method in ("POST", "PUT") and request.body:
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            return []  # the structure checks already say why
    if body is None or not request.body:
        return profile_findings(body)
    return list(_PROFILE_FINDINGS.get(request.body, lambda: tuple(profile_findings(body))))


# Profile findings of bodies seen lately: findings are frozen, so a repeated body shares them.
_PROFILE_FINDINGS: ContentMemo[tuple[Finding, ...]] = ContentMemo()


def claims_request_id(job: ReportJob) -> bool:
    """Whether the job's X-Request-Id takes part in duplicate detection.

    Requests without an identified organisation never do: they share one bucket, and one sender's
    ids must not make another's look repeated.
    """
    return bool((job.request.request_id or "").strip()) and job.organisation != UNIDENTIFIED_ORGANISATION


def record_of(job: ReportJob, findings: Sequence[Finding]) -> ReportRecord:
    header = job.request.header("NHSD-Target-Identifier")
    try:
        target = decode_target_identifier(header) if header else None
    except HeaderError:
        target = None
    return build_report(
        request=job.request,
        response=job.response,
        findings=findings,
        organisation=job.organisation,
        target=target,
        operation=job.operation,
        scenario=job.scenario,
        report_id=job.report_id,
        # The emulator's clock, not API Gateway's request time: retention counts from storage.
        time=datetime.fromtimestamp(job.received, UTC),
        responses=job.responses,
    )


def produce_reports(jobs: Sequence[ReportJob], store: ReportStore) -> list[str]:
    """Produce and store the jobs' reports; the ids of the jobs that failed (to be retried)."""
    # Strict mode claimed on the request path already (its findings came with the job).
    claims = [
        RequestIdClaim(job.organisation, (job.request.request_id or "").strip(), job.report_id, job.received)
        for job in jobs
        if job.findings is None and claims_request_id(job)
    ]
    try:
        reused = store.claim_request_ids(claims) if claims else set()
    except Exception:
        logger.exception("Checking X-Request-Id claims failed", extra={"report_ids": [c.report_id for c in claims]})
        return [job.report_id for job in jobs]
    records: list[ReportRecord] = []
    failed: list[str] = []
    for job in jobs:
        try:
            findings = job.findings
            if findings is None:
                seen_before = job.report_id in reused
                findings = (*checks(job, seen_before), *profile_findings_of(job.operation, job.request, job.bundle))
            records.append(record_of(job, findings))
        except Exception:
            logger.exception("Producing a validation report failed", extra={"report_id": job.report_id})
            failed.append(job.report_id)
    if records:
        # A reuse's claim is not stored: the original request keeps the X-Request-Id.
        failed += store.save_all(records, [c for c in claims if c.report_id not in reused])
    return failed
