"""Report production: the report worker's work, off the sender's request path.

For a batch of :class:`~tkw.reports.job.ReportJob`: check the batch's ``X-Request-Id`` claims at
once (a reuse within 24 h is a finding), run every TKW check of each job, build the records; then
store the records and the new claims in one go. Writes are keyed by report id, so a redelivered job
rewrites the same items (idempotent), and a claim made by the same report id is not a reuse.

Senders replay the same requests (a CI suite sends one booking a thousand times with a fresh
``X-Request-Id``): what the checks say about a request's content (every rule but the transaction
rules, the profiles, the judgement) is kept per :func:`tkw.validation.engine.content_key`, so a
repeat runs only the transaction rules.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tkw.applications import Judgement
from tkw.content_memo import ContentMemo
from tkw.encoded_headers import HeaderError, TargetIdentifier, decode_target_identifier
from tkw.http import ApiRequest
from tkw.reports.job import UNIDENTIFIED_ORGANISATION, ReportJob
from tkw.reports.model import ReportRecord, build_report
from tkw.reports.store import ReportStore, RequestIdClaim
from tkw.routes import Operation
from tkw.validation import Finding, ValidationInput
from tkw.validation.context import ValidationContext
from tkw.validation.engine import CONTENT_RULES, TRANSACTION_RULES, content_key, run_rules
from tkw.validation.profile import profile_findings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContentChecks:
    """What the checks say about a request's content: the same for every request with its content key."""

    findings: tuple[Finding, ...]  # of every rule but the transaction rules, in rule order
    profile: tuple[Finding, ...]  # the profiles' (see profile_findings_of)
    judgement: Judgement | None  # the Application and use case it is judged against (None: none could be)


# Content checks of requests seen lately (findings and judgements are frozen: repeats share them).
_CONTENT_CHECKS: ContentMemo[ContentChecks] = ContentMemo()


def _target(job: ReportJob) -> TargetIdentifier | None:
    header = job.request.header("NHSD-Target-Identifier")
    try:
        return decode_target_identifier(header) if header else None
    except HeaderError:
        return None  # its finding says why


def validation_input(job: ReportJob, seen_before: bool) -> ValidationInput:
    return ValidationInput(
        operation=job.operation,
        request=job.request,
        body=job.bundle,
        target=_target(job),
        seen_before=seen_before,
        structure_validated=job.bundle is not None,
    )


def content_checks(inp: ValidationInput) -> ContentChecks:
    """The content checks of ``inp``, computed once per content key while it is remembered."""

    def compute() -> ContentChecks:
        ctx = ValidationContext(inp)
        findings = tuple(run_rules(ctx, CONTENT_RULES))
        try:
            judgement: Judgement | None = ctx.judgement
        except Exception:  # an unreadable body: the report goes without it (as build_report would)
            judgement = None
        profile = tuple(profile_findings_of(inp.operation, inp.request, inp.body))
        return ContentChecks(findings, profile, judgement)

    return _CONTENT_CHECKS.get(content_key(inp), compute)


def checks(job: ReportJob, seen_before: bool) -> list[Finding]:
    """Every TKW check on the job's request (findings only change the answer in strict mode):
    :func:`tkw.validation.validate`'s findings, the content rules' shared between repeats."""
    inp = validation_input(job, seen_before)
    return [*run_rules(ValidationContext(inp), TRANSACTION_RULES), *content_checks(inp).findings]


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


def record_of(job: ReportJob, findings: Sequence[Finding], judged_against: Judgement | None = None) -> ReportRecord:
    """The job's record; ``judged_against`` when known already (else :func:`build_report` judges)."""
    target = _target(job)
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
        judged_against=judged_against,
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
            if job.findings is None:
                inp = validation_input(job, job.report_id in reused)
                content = content_checks(inp)
                transaction = run_rules(ValidationContext(inp), TRANSACTION_RULES)
                findings = (*transaction, *content.findings, *content.profile)
                records.append(record_of(job, findings, content.judgement))
            else:
                records.append(record_of(job, job.findings))
        except Exception:
            logger.exception("Producing a validation report failed", extra={"report_id": job.report_id})
            failed.append(job.report_id)
    if records:
        # A reuse's claim is not stored: the original request keeps the X-Request-Id.
        failed += store.save_all(records, [c for c in claims if c.report_id not in reused])
    return failed
