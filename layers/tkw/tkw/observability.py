"""Tracing that costs nothing where nobody collects traces.

Powertools' Tracer builds its X-Ray provider (importing the X-Ray SDK, ~0.3-0.5 s of cold start)
even when tracing is disabled. :func:`make_tracer` (what every function calls, through
``tkw.edge.tracer``) hands Powertools a no-op provider whenever no X-Ray daemon is there to receive
segments (the local runner, tests, benchmarks, a stack deployed with ``Tracing: PassThrough``), so
only functions that actually send traces pay for the SDK, whatever the import order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Sequence
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment


class _NoSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None: ...
    def add_subsegment(self, subsegment: Any) -> None: ...
    def remove_subsegment(self, subsegment: Any) -> None: ...
    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None: ...


class OfflineProvider(BaseProvider):
    """A tracing provider that records nothing (Powertools never calls it while disabled)."""

    @contextlib.contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> Any:
        return contextlib.nullcontext(_NoSegment())

    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def patch(self, modules: Sequence[str]) -> None: ...
    def patch_all(self) -> None: ...


def tracing_is_live() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true", "yes", "on"}
    return bool(os.environ.get("AWS_XRAY_DAEMON_ADDRESS")) and not disabled


def make_tracer() -> Tracer:
    if tracing_is_live():
        return Tracer()
    return Tracer(disabled=True, auto_patch=False, provider=OfflineProvider())
