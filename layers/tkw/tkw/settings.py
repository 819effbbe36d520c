"""Configuration, read once from the environment at the edge (template parameters mirror these)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal, get_args

from pydantic import BaseModel, Field

# Reports, their index items and receiver runs are kept this long (template: ReportRetentionDays).
DEFAULT_REPORT_RETENTION_DAYS = 30
# Which edition of the TKW guide's scenario table decides where the two disagree: `live` (the live
# implementation guide's TKW page, what suppliers follow today) or `beta` (guide v1.0.0-beta).
Edition = Literal["live", "beta"]
EDITIONS: tuple[Edition, ...] = get_args(Edition)


class Settings(BaseModel):
    auth_mode: Literal["sandbox", "int"] = "sandbox"
    strict_mode: bool = False
    table_name: str = "tkw-emulator"
    reports_bucket: str = "tkw-emulator-reports"
    receiver_runs_queue_url: str = ""
    report_link_expiry_seconds: int = Field(default=900, ge=1, le=900)
    report_retention_days: int = Field(default=DEFAULT_REPORT_RETENTION_DAYS, ge=1)
    max_body_bytes: int = 5 * 1024 * 1024
    # Reports are written for every BaRS call unless switched off (benchmarks compare both).
    reports_enabled: bool = True
    # Where report jobs go: the report worker's SQS queue (deployed), or a worker thread in this
    # process (the local runner; and wherever no queue is configured).
    reports_queue_url: str = ""
    report_handoff: Literal["queue", "in-process"] = "in-process"
    allow_private_receivers: bool = False
    # Share links for assurance (/tkw/reports/{id}/share) last this many days.
    share_link_days: int = Field(default=7, ge=1, le=30)
    # Per organisation and clock hour: what the stack may send out (tkw.outbound_limits).
    receiver_runs_per_hour: int = Field(default=20, ge=1)
    async_responses_per_hour: int = Field(default=200, ge=1)
    # Async responses (emulator -> sender): the queue, the delays (seconds; SQS allows 0..900), the
    # per-attempt timeout and the retries with backoff on network failures.
    responses_queue_url: str = ""
    response_delay_seconds: int = Field(default=2, ge=0, le=900)
    response_follow_up_seconds: int = Field(default=3, ge=0, le=900)
    response_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    response_attempts: int = Field(default=3, ge=1, le=10)
    response_backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    tkw_edition: Edition = "live"
    # A well-formed NHSD-Target-Identifier outside the emulated Endpoint Catalogue: `reject` answers
    # 404 PROXY_NOT_FOUND as the live proxy does; `accept` routes it to TKW's "any other" answers.
    unknown_targets: Literal["reject", "accept"] = "reject"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def flag(name: str, default: bool) -> bool:
            raw = e.get(name)
            return default if raw is None or raw == "" else raw.strip().lower() in {"1", "true", "yes", "on"}

        return cls(
            auth_mode=(e.get("AUTH_MODE") or "sandbox").strip().lower(),  # type: ignore[arg-type]
            strict_mode=flag("STRICT_MODE", False),
            table_name=e.get("TABLE_NAME") or "tkw-emulator",
            reports_bucket=e.get("REPORTS_BUCKET") or "tkw-emulator-reports",
            receiver_runs_queue_url=e.get("RECEIVER_RUNS_QUEUE_URL") or "",
            report_link_expiry_seconds=int(e.get("REPORT_LINK_EXPIRY_SECONDS") or 900),
            report_retention_days=int(e.get("REPORT_RETENTION_DAYS") or DEFAULT_REPORT_RETENTION_DAYS),
            reports_enabled=flag("REPORTS_ENABLED", True),
            reports_queue_url=e.get("REPORTS_QUEUE_URL") or "",
            report_handoff=(  # type: ignore[arg-type]
                e.get("TKW_REPORT_HANDOFF") or ("queue" if e.get("REPORTS_QUEUE_URL") else "in-process")
            )
            .strip()
            .lower(),
            allow_private_receivers=flag("ALLOW_PRIVATE_RECEIVERS", False),
            share_link_days=int(e.get("SHARE_LINK_DAYS") or 7),
            receiver_runs_per_hour=int(e.get("RECEIVER_RUNS_PER_HOUR") or 20),
            async_responses_per_hour=int(e.get("ASYNC_RESPONSES_PER_HOUR") or 200),
            responses_queue_url=e.get("RESPONSES_QUEUE_URL") or "",
            response_delay_seconds=int(e.get("RESPONSE_DELAY_SECONDS") or 2),
            response_follow_up_seconds=int(e.get("RESPONSE_FOLLOW_UP_SECONDS") or 3),
            response_timeout_seconds=float(e.get("RESPONSE_TIMEOUT_SECONDS") or 10),
            response_attempts=int(e.get("RESPONSE_ATTEMPTS") or 3),
            response_backoff_seconds=float(e.get("RESPONSE_BACKOFF_SECONDS") or 1),
            tkw_edition=(e.get("TKW_EDITION") or "live").strip().lower(),  # type: ignore[arg-type]
            unknown_targets=(e.get("UNKNOWN_TARGETS") or "reject").strip().lower(),  # type: ignore[arg-type]
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
