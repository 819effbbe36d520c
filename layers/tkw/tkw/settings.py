"""Configuration, read once from the environment at the edge (template parameters mirror these).

A frozen dataclass, not a pydantic model: every BaRS function reads it at import, and keeping
pydantic out of their import graph is most of their cold start (issue 13). The bounds are checked
in ``__post_init__`` with the same rules the template's parameters state.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeVar, get_args

Number = TypeVar("Number", int, float)

# Reports, their index items and receiver runs are kept this long (template: ReportRetentionDays).
DEFAULT_REPORT_RETENTION_DAYS = 30
# Which edition of the TKW guide's scenario table decides where the two disagree: `live` (the live
# implementation guide's TKW page, what suppliers follow today) or `beta` (guide v1.0.0-beta).
Edition = Literal["live", "beta"]
EDITIONS: tuple[Edition, ...] = get_args(Edition)
AuthMode = Literal["sandbox", "int"]
ReportHandoff = Literal["queue", "in-process"]
UnknownTargets = Literal["reject", "accept"]

# field -> (lowest, highest) allowed; None: unbounded on that side.
_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "report_link_expiry_seconds": (1, 900),  # S3 presigned links for people: at most 15 minutes
    "report_retention_days": (1, None),
    "share_link_days": (1, 30),
    "receiver_runs_per_hour": (1, None),
    "async_responses_per_hour": (1, None),
    "response_delay_seconds": (0, 900),  # SQS DelaySeconds allows 0..900
    "response_follow_up_seconds": (0, 900),
    "response_attempts": (1, 10),
    "response_backoff_seconds": (0, 60),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "auth_mode": get_args(AuthMode),
    "report_handoff": get_args(ReportHandoff),
    "tkw_edition": EDITIONS,
    "unknown_targets": get_args(UnknownTargets),
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    auth_mode: AuthMode = "sandbox"
    strict_mode: bool = False
    table_name: str = "tkw-emulator"
    reports_bucket: str = "tkw-emulator-reports"
    receiver_runs_queue_url: str = ""
    report_link_expiry_seconds: int = 900
    report_retention_days: int = DEFAULT_REPORT_RETENTION_DAYS
    max_body_bytes: int = 5 * 1024 * 1024
    # Reports are written for every BaRS call unless switched off (benchmarks compare both).
    reports_enabled: bool = True
    # Where report jobs go: the report worker's SQS queue (deployed), or a worker thread in this
    # process (the local runner; and wherever no queue is configured).
    reports_queue_url: str = ""
    report_handoff: ReportHandoff = "in-process"
    allow_private_receivers: bool = False
    # Share links for assurance (/tkw/reports/{id}/share) last this many days.
    share_link_days: int = 7
    # Per organisation and clock hour: what the stack may send out (tkw.outbound_limits).
    receiver_runs_per_hour: int = 20
    async_responses_per_hour: int = 200
    # Async responses (emulator -> sender): the queue, the delays (seconds; SQS allows 0..900), the
    # per-attempt timeout and the retries with backoff on network failures.
    responses_queue_url: str = ""
    response_delay_seconds: int = 2
    response_follow_up_seconds: int = 3
    response_timeout_seconds: float = 10.0
    response_attempts: int = 3
    response_backoff_seconds: float = 1.0
    tkw_edition: Edition = "live"
    # A well-formed NHSD-Target-Identifier outside the emulated Endpoint Catalogue: `reject` answers
    # 404 PROXY_NOT_FOUND as the live proxy does; `accept` routes it to TKW's "any other" answers.
    unknown_targets: UnknownTargets = "reject"

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be one of {', '.join(choices)}, not {getattr(self, name)!r}"
            for name, choices in _CHOICES.items()
            if getattr(self, name) not in choices
        ]
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if (low is not None and value < low) or (high is not None and value > high):
                span = f"at least {low}" if high is None else f"between {low} and {high}"
                problems.append(f"{name} must be {span}, not {value!r}")
        timeout = self.response_timeout_seconds
        if not 0 < timeout <= 60:
            problems.append(f"response_timeout_seconds must be above 0 and at most 60, not {timeout!r}")
        if problems:
            raise ValueError("Invalid settings: " + "; ".join(problems))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def flag(name: str, default: bool) -> bool:
            raw = e.get(name)
            return default if raw is None or raw == "" else raw.strip().lower() in {"1", "true", "yes", "on"}

        def read(name: str, default: Number, kind: Callable[[str], Number], what: str) -> Number:
            raw = e.get(name) or str(default)
            try:
                return kind(raw)
            except ValueError:
                raise ValueError(f"Invalid settings: {name} must be {what}, not {raw!r}") from None

        def number(name: str, default: int) -> int:
            return read(name, default, int, "a whole number")

        def seconds(name: str, default: float) -> float:
            return read(name, default, float, "a number of seconds")

        def choice(name: str, default: str) -> str:
            return (e.get(name) or default).strip().lower()

        return cls(
            auth_mode=choice("AUTH_MODE", "sandbox"),  # type: ignore[arg-type]  # checked in __post_init__
            strict_mode=flag("STRICT_MODE", False),
            table_name=e.get("TABLE_NAME") or "tkw-emulator",
            reports_bucket=e.get("REPORTS_BUCKET") or "tkw-emulator-reports",
            receiver_runs_queue_url=e.get("RECEIVER_RUNS_QUEUE_URL") or "",
            report_link_expiry_seconds=number("REPORT_LINK_EXPIRY_SECONDS", 900),
            report_retention_days=number("REPORT_RETENTION_DAYS", DEFAULT_REPORT_RETENTION_DAYS),
            reports_enabled=flag("REPORTS_ENABLED", True),
            reports_queue_url=e.get("REPORTS_QUEUE_URL") or "",
            report_handoff=choice(  # type: ignore[arg-type]
                "TKW_REPORT_HANDOFF", "queue" if e.get("REPORTS_QUEUE_URL") else "in-process"
            ),
            allow_private_receivers=flag("ALLOW_PRIVATE_RECEIVERS", False),
            share_link_days=number("SHARE_LINK_DAYS", 7),
            receiver_runs_per_hour=number("RECEIVER_RUNS_PER_HOUR", 20),
            async_responses_per_hour=number("ASYNC_RESPONSES_PER_HOUR", 200),
            responses_queue_url=e.get("RESPONSES_QUEUE_URL") or "",
            response_delay_seconds=number("RESPONSE_DELAY_SECONDS", 2),
            response_follow_up_seconds=number("RESPONSE_FOLLOW_UP_SECONDS", 3),
            response_timeout_seconds=seconds("RESPONSE_TIMEOUT_SECONDS", 10),
            response_attempts=number("RESPONSE_ATTEMPTS", 3),
            response_backoff_seconds=seconds("RESPONSE_BACKOFF_SECONDS", 1),
            tkw_edition=choice("TKW_EDITION", "live"),  # type: ignore[arg-type]
            unknown_targets=choice("UNKNOWN_TARGETS", "reject"),  # type: ignore[arg-type]
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
