"""Who may act for which organisations: the one authorisation rule of every ``/tkw`` route.

``int`` mode: an application is registered for the ODS codes it acts for (``ods_codes``, at least
one), and its bearer token reads and changes only those organisations' reports, receiver runs,
state, endpoints and shares. ``sandbox`` mode: open within a stack, any caller acts for any
organisation it names in ``NHSD-End-User-Organisation``. BaRS calls themselves are not checked
here: API-M does not compare that header with the token either.

For authors of ``/tkw`` routes (e.g. ``/tkw/endpoints``, ``/tkw/responses``)::

    serve_admin(lambda request, services, caller: my_action(request, services, caller), app, logger)

    def my_action(request, services, caller):
        ods = caller.organisation(request)            # the one call: whose data this request touches
        ...                                           # read and write only under ``ods``

:func:`authorise` runs before every non-public action (``pipeline.handle_admin``) and hands it the
:class:`Caller`. ``caller.organisation`` answers the ODS code of ``NHSD-End-User-Organisation`` (or,
when the header is left out, the application's only organisation), and raises a 404 when the caller
is not bound to it: pass the route's own "no such record" error as ``not_found`` so that another
organisation's record and a record that does not exist get the very same answer (no oracle).
A record read by an id that does not name its organisation (a share token, a run id) must also be
checked with ``caller.organisation(request) == record.organisation`` before it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tkw.encoded_headers import ODS_CODE, HeaderError, decode_end_user_organisation
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse

if TYPE_CHECKING:
    from tkw.services import Services

ORGANISATION_HEADER = "NHSD-End-User-Organisation"
_EXAMPLE = (
    'base64 of {"resourceType": "Organization", "identifier": [{"system": '
    '"https://fhir.nhs.uk/Id/ods-organization-code", "value": "<your ODS code>"}]}'
)


def nothing_found(what: str = "record") -> BarsError:
    """The 404 for anything the caller may not see: worded as if it did not exist at all."""
    return BarsError.of(404, "REC_NOT_FOUND", "not-found", f"No {what} exists for your organisation.")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling and which organisations it may act for (``None``: any, in sandbox mode)."""

    organisations: frozenset[str] | None
    application: str | None = None  # the registered application's name (int mode)

    @property
    def bound(self) -> bool:
        return self.organisations is not None

    def admits(self, ods: str) -> bool:
        return self.organisations is None or ods in self.organisations

    def organisation(
        self, request: ApiRequest, *, not_found: BarsError | None = None, when_absent: str | None = None
    ) -> str:
        """The ODS code this request acts for; 400 when it cannot be told, 404 when not the caller's.

        ``when_absent``: what an open (sandbox) caller acts for without the header; a bound caller
        without the header acts for its only organisation, or must say which.
        """
        raw = request.header(ORGANISATION_HEADER)
        if raw is None or not raw.strip():
            if self.organisations is not None and len(self.organisations) == 1:
                return next(iter(self.organisations))
            if self.organisations is None and when_absent is not None:
                return when_absent
            raise BarsError.of(
                400,
                "REC_BAD_REQUEST",
                "required",
                f"The {ORGANISATION_HEADER} header is missing: say which organisation this is for, with the same "
                f"header as on your BaRS requests ({_EXAMPLE}).",
                header=ORGANISATION_HEADER,
            )
        ods = decode_organisation(raw)
        if not self.admits(ods):
            raise not_found or nothing_found()
        return ods


OPEN = Caller(organisations=None)
# Public routes act for no organisation at all, whatever the mode.
NOBODY = Caller(organisations=frozenset())


def decode_organisation(raw: str) -> str:
    """The ODS code in an ``NHSD-End-User-Organisation`` value; 400 saying what is wrong otherwise."""
    try:
        ods = decode_end_user_organisation(raw)
    except HeaderError as err:
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "invalid",
            f"The {ORGANISATION_HEADER} header could not be decoded: {err} It must be {_EXAMPLE}.",
            header=ORGANISATION_HEADER,
        ) from None
    if not ODS_CODE.match(ods):
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "value",
            f"The ODS code in {ORGANISATION_HEADER} ({ods[:40]!r}) is not an ODS code (letters and digits).",
            header=ORGANISATION_HEADER,
        )
    return ods


def authorise(request: ApiRequest, services: Services) -> Caller:
    """The caller of a ``/tkw`` route: open in sandbox mode; in int mode its token's organisations.

    Raises 401 SEND_UNAUTHORIZED (as the BaRS proxy does) without a valid bearer token in int mode.
    """
    if services.settings.auth_mode != "int":
        return OPEN
    from tkw.auth.bearer import require_bearer

    token = require_bearer(request, services.auth, services.clock())
    return Caller(organisations=frozenset(token.ods_codes), application=token.app_name)


def organisations_view(caller: Caller, services: Services) -> ApiResponse:
    """``GET /tkw/organisations``: whom the caller may act for (``ods_codes`` null: any, sandbox mode)."""
    body = {
        "auth_mode": services.settings.auth_mode,
        "application": caller.application,
        "ods_codes": None if caller.organisations is None else sorted(caller.organisations),
    }
    return ApiResponse(200, body, content_type="application/json", headers={"Cache-Control": "no-store"})
