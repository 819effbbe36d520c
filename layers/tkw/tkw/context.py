"""The request context: one admitted BaRS request, built once at the edge and never changed.

Everything below the pipeline (the answer, the scenario engine, the stateful machine, validation)
reads a :class:`RequestContext`; none of them imports the pipeline. What they decide comes back as
an :class:`Answer` (the response plus which scenario gave it), never as notes written on a shared bag.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from tkw.encoded_headers import TargetIdentifier
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse
from tkw.routes import Operation

if TYPE_CHECKING:
    from tkw.scenarios.classify import Classification


@dataclass(frozen=True)
class RequestContext:
    """An admitted request: what the proxy checks decoded, and the emulator's clock at arrival."""

    operation: Operation
    request: ApiRequest
    now: float  # seconds since the epoch, read once at the edge
    target: TargetIdentifier | None = None
    bundle: dict[str, Any] | None = None  # the parsed $process-message body
    application: str | None = None  # int mode: the API-M application the bearer token belongs to

    @cached_property
    def classification(self) -> Classification:
        """What kind of BaRS message the body is (classified once; scenarios and state both use it)."""
        # Lazy: the classifier pulls in the message rules, which no GET route needs (cold start).
        from tkw.scenarios.classify import classify

        if self.bundle is None:
            raise BarsError.of(400, "REC_BAD_REQUEST", "required", "The request body must be a FHIR message Bundle.")
        return classify(self.bundle)


class Answer(NamedTuple):
    """The receiver's answer to one request, and the TKW scenario (or stateful step) that chose it."""

    response: ApiResponse
    scenario: str | None = None
