"""Share links for assurance: a report (or a zip of several) that anyone can open for days.

A link is ``<stack URL>/tkw/shared/<token>``. The token is 256 bits from :mod:`secrets` and is
never stored or logged: the store keys a share by the token's SHA-256 (its ``id``, which
``GET /tkw/shares`` lists and ``DELETE /tkw/shares/{token}`` also accepts). A share belongs to the
organisation whose reports it shows; it lasts ``ShareLinkDays`` and can be withdrawn at any time.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

SHARED_PATH = "/tkw/shared"
TOKEN_BYTES = 32  # 256 bits
# A stored share outlives its link by this long, so an expired link still says "expired".
KEEP_AFTER_EXPIRY_SECONDS = 30 * 86400
ShareKind = Literal["report", "zip"]
ShareStatus = Literal["active", "expired", "revoked"]


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def share_id(token: str) -> str:
    """The stored key of a share: the SHA-256 of its token, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def is_share_id(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


class ShareRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[0-9a-f]{64}$")
    organisation: str
    kind: ShareKind
    report_ids: tuple[str, ...] = Field(min_length=1)
    created_at: int  # epoch seconds
    valid_until: int  # epoch seconds: the link works until then
    created_by: str | None = None  # the application's name, in int mode
    revoked_at: int | None = None
    opened_at: int | None = None  # the last time the link was opened
    open_count: int = 0

    def status(self, now: float) -> ShareStatus:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if now < self.valid_until else "expired"

    @property
    def keep_until(self) -> int:
        return self.valid_until + KEEP_AFTER_EXPIRY_SECONDS

    def view(self, now: float) -> dict[str, object]:
        """What ``GET /tkw/shares`` shows (never the token: it is not stored)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "report_ids": list(self.report_ids),
            "status": self.status(now),
            "created_at": iso(self.created_at),
            "expires_at": iso(self.valid_until),
            "created_by": self.created_by,
            "revoked_at": iso(self.revoked_at) if self.revoked_at is not None else None,
            "opened_at": iso(self.opened_at) if self.opened_at is not None else None,
            "open_count": self.open_count,
        }


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class ShareStore(Protocol):
    def put(self, share: ShareRecord) -> None: ...

    def get(self, share_id: str) -> ShareRecord | None:
        """The share, whatever its status (until its storage expires), or None."""
        ...

    def list(self, organisation: str, now: float) -> list[ShareRecord]:
        """The organisation's shares, newest first, including expired and revoked ones still stored."""
        ...

    def revoke(self, share: ShareRecord, now: float) -> None: ...

    def record_opened(self, share: ShareRecord, now: float) -> None: ...
