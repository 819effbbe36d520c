"""Configuration, read once from the environment at the edge (template parameters mirror these)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field


class Settings(BaseModel):
    auth_mode: Literal["sandbox", "int"] = "sandbox"
    strict_mode: bool = False
    table_name: str = "tkw-emulator"
    reports_bucket: str = "tkw-emulator-reports"
    receiver_runs_queue_url: str = ""
    report_link_expiry_seconds: int = Field(default=900, ge=1, le=900)
    report_retention_days: int = Field(default=30, ge=1)
    max_body_bytes: int = 5 * 1024 * 1024
    # Reports are written for every BaRS call unless switched off (benchmarks compare both).
    reports_enabled: bool = True
    allow_private_receivers: bool = False
    # Share links for assurance (/tkw/reports/{id}/share) last this many days.
    share_link_days: int = Field(default=7, ge=1, le=30)
    # Per organisation and clock hour: what the stack may send out (tkw.outbound).
    receiver_runs_per_hour: int = Field(default=20, ge=1)
    async_responses_per_hour: int = Field(default=200, ge=1)

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
            report_retention_days=int(e.get("REPORT_RETENTION_DAYS") or 30),
            reports_enabled=flag("REPORTS_ENABLED", True),
            allow_private_receivers=flag("ALLOW_PRIVATE_RECEIVERS", False),
            share_link_days=int(e.get("SHARE_LINK_DAYS") or 7),
            receiver_runs_per_hour=int(e.get("RECEIVER_RUNS_PER_HOUR") or 20),
            async_responses_per_hour=int(e.get("ASYNC_RESPONSES_PER_HOUR") or 200),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
