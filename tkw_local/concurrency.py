"""Let several invocations run at once in one process, as several Lambda environments would.

Powertools' event handler keeps the current event and Lambda context on the ``BaseRouter`` class
(one invocation per process is Lambda's contract). The runner serves requests on threads, so it
moves those two attributes into thread-local storage: each thread then sees its own invocation.
"""

from __future__ import annotations

import abc
import threading
from typing import Any

_local = threading.local()
_installed = False
_ATTRIBUTES = ("current_event", "lambda_context")


def _thread_local_property(name: str) -> property:
    def get(_: Any) -> Any:
        return getattr(_local, name, None)

    def set_(_: Any, value: Any) -> None:
        setattr(_local, name, value)

    return property(get, set_)


class _ThreadLocalRouterMeta(abc.ABCMeta):
    """Class-level reads and writes (``BaseRouter.current_event = ...``) go to the thread."""

    current_event = _thread_local_property("current_event")
    lambda_context = _thread_local_property("lambda_context")


def install() -> None:
    global _installed
    if _installed:
        return
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    for name in _ATTRIBUTES:
        # Instance-level reads and writes (self.current_event) go to the thread too.
        setattr(BaseRouter, name, None)
        type.__setattr__(BaseRouter, name, _thread_local_property(name))
    BaseRouter.__class__ = _ThreadLocalRouterMeta  # type: ignore[method-assign,assignment]
    _installed = True
