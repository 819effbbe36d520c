"""The kinds of BaRS ``$process-message`` payload the emulator recognises (BARS-API.md §6.2).

The classifier in ``tkw.scenarios.classify`` maps a message Bundle to one of these; the sentinel
table, the stateful 111-to-ED machine and the validation rules all speak in these terms.
"""

from __future__ import annotations

from enum import StrEnum

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


class MessageKind(StrEnum):
    BOOKING_NEW = "booking-new"
    BOOKING_UPDATE = "booking-update"
    BOOKING_CANCEL = "booking-cancel"
    REFERRAL_NEW = "referral-new"
    REFERRAL_CANCEL = "referral-cancel"
    VALIDATION_NEW = "validation-new"
    VALIDATION_UPDATE = "validation-update"
    VALIDATION_CANCEL = "validation-cancel"
    VALIDATION_RESPONSE_FULL = "validation-response-full"
    VALIDATION_RESPONSE_INTERIM = "validation-response-interim"
    SAFEGUARDING_DNA_RESPONSE = "safeguarding-dna-response"
