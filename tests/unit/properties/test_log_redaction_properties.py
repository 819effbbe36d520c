"""Property tests of ``tkw.http.loggable_path``: no NHS number reaches a log line through a path.

Senders do put the NHS number where an id goes (``GET /Appointment/9054613556``); the request
log names the path, so it is masked there, whatever surrounds it.
"""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from tkw.http import loggable_path

nhs_numbers = st.from_regex(r"\A[0-9]{10}\Z")
separators = st.sampled_from(("", " ", "-"))  # as written: 9054613556, 905 461 3556, 905-461-3556
# Around it: anything but digits and hex letters (inside a hex run it could be part of a UUID).
path_text = st.text(
    alphabet=st.characters(blacklist_categories=("Nd",), blacklist_characters="abcdefABCDEF"), max_size=30
)


@given(path_text, nhs_numbers, separators, path_text)
def test_an_nhs_number_anywhere_in_a_path_is_masked(before: str, number: str, sep: str, after: str) -> None:
    shown = f"{number[:3]}{sep}{number[3:6]}{sep}{number[6:]}"
    logged = loggable_path(f"/booking-and-referral/FHIR/R4/{before}{shown}{after}")
    assert number not in logged and shown not in logged


@given(st.uuids())
def test_uuids_and_the_base_path_are_left_alone(value: uuid.UUID) -> None:
    path = f"/booking-and-referral/FHIR/R4/Appointment/{value}"
    assert loggable_path(path) == path


@given(st.text(max_size=5000))
def test_a_logged_path_is_short(path: str) -> None:
    assert len(loggable_path(path)) <= 200 + 20
