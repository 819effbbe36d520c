"""Data shapes of the API-M emulation: check results, registered applications, issued tokens.

Named tuples (and one frozen dataclass, whose ``__post_init__`` guards what a token record may
hold): the bearer check runs in every BaRS function in ``int`` mode, and keeping pydantic out of
their import graph is most of their cold start (issue 13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from tkw.validation.findings import Severity  # one severity scale for every finding

# The form fields of an application-restricted, signed-JWT token request (API-M).
GRANT_TYPE = "client_credentials"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path
# The only algorithm API-M accepts for a client assertion; also pyjwt's allow-list.
ALGORITHMS: tuple[str, ...] = ("RS512",)
# exp may be at most 5 minutes ahead; API-M tolerates 10 s more for clock skew (seconds_remaining > 310).
MAX_ASSERTION_LIFETIME_SECONDS = 300
ASSERTION_LIFETIME_GRACE_SECONDS = 10
# Access tokens: API-M answers expires_in "599".
TOKEN_LIFETIME_SECONDS = 599
# A used jti is remembered this long after the assertion's exp (a replay after exp fails on exp anyway).
JTI_RETENTION_SECONDS = 24 * 3600
# The OAuth scope the BaRS proxy checks (BARS-API.md §1): recorded on every token we issue.
BARS_SCOPE = "urn:nhsd:apim:app:level3:booking-and-referral"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")


class AssertionCheck(NamedTuple):
    """One check made on a token request, for the sender's report.

    ``passed`` is False both for a failed check and for one that could not run (``skipped``: an
    earlier problem made it meaningless, e.g. no signature check without a registered key).
    """

    id: str  # stable, e.g. "claim.exp.window"
    severity: Severity
    passed: bool
    message: str
    location: str  # "header.alg", "claim.exp", "form.grant_type", "signature", ...
    skipped: bool = False


class AppKey(NamedTuple):
    """A public key registered for an application under a ``kid``."""

    kid: str
    public_key_pem: str  # SubjectPublicKeyInfo PEM, normalised at registration


class AppRecord(NamedTuple):
    """A registered application: the emulator's stand-in for an API-M developer-portal app."""

    api_key: str
    name: str
    created_at: int  # epoch seconds
    keys: tuple[AppKey, ...] = ()
    # The organisations (ODS codes) it acts for: in int mode its tokens see only their data.
    ods_codes: tuple[str, ...] = ()
    expires_at: int | None = None  # epoch seconds; None: kept until deleted (seeded apps)

    def key_for(self, kid: str) -> AppKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    @property
    def kids(self) -> list[str]:
        return [k.kid for k in self.keys]

    def public_view(self) -> dict[str, object]:
        """What GET /tkw/apps/{api_key} shows: no key material beyond the kids."""
        return {
            "api_key": self.api_key,
            "name": self.name,
            "kids": self.kids,
            "ods_codes": list(self.ods_codes),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, kw_only=True)
class TokenRecord:
    """An issued access token, stored under the SHA-256 of the opaque token (never the token)."""

    token_hash: str  # hex SHA-256
    api_key: str
    kid: str
    app_name: str
    issued_at_ms: int
    expires_at: int  # epoch seconds; also the DynamoDB TTL attribute
    scope: str = BARS_SCOPE
    # The application's organisations when the token was issued (API-M, too, copies an app's
    # attributes into its tokens): what tkw.access lets the token read and change.
    ods_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _SHA256_HEX.match(self.token_hash):
            raise ValueError("token_hash must be a hex SHA-256 (the token itself is never stored)")
