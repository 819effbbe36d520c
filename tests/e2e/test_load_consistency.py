"""Nothing lost under load: 500 mixed BaRS requests on 16 threads, then every one is accounted for.

Every answer names a report (``TKW-Report-Id``), no two answers name the same one, each report
can be read back and records that exchange (its X-Correlation-Id and status), and each
organisation's listing holds exactly one report per correlation id and nothing else (the whole
listing, page by page, for all 500; the ``correlation_id`` filter for a sample, because each
filtered listing reads the organisation's whole index). Meanwhile one organisation's stateful 111-to-ED patient is
booked and referred by many racing requests: exactly one of each wins, and ``GET /tkw/state``, the
reads and every loser's answer agree with the winners.

Bounded: a fixed number of requests, each with a timeout; nothing is timed.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bars_support import bars_headers, example
from emulator_support import Emulator, HttpResult
from unit.stateful.stateful_bundles import booking_new, referral, referral_as_published, referral_cancel

THREADS = 16
SEED = 20261124
ORGANISATIONS = 5  # the stateless mix is spread over a few organisations, as several testers would
FILTER_SAMPLE = 40
NHS = "https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C"
SLOTS = (
    "/Slot?status=free&start=ge2026-11-01T09%3A00%3A00%2B00%3A00&start=le2026-11-30T17%3A00%3A00%2B00%3A00"
    "&Schedule.actor%3AHealthcareService=2000072489&_include=Slot%3Aschedule"
)
# (method, path, body factory or None, target) for the stateless part of the mix.
STATELESS: list[tuple[str, str, Callable[[], Any] | None, str]] = [
    ("GET", "/metadata", None, "2000011147"),
    ("GET", "/metadata", None, "2000076289"),
    ("GET", "/MessageDefinition?context=2000011147", None, "2000011147"),
    ("GET", "/MessageDefinition", None, "2000011147"),  # 400: context missing
    ("GET", SLOTS, None, "2000072489"),
    ("GET", SLOTS.replace("2000072489", "2000094120"), None, "2000072489"),  # 408 sentinel
    ("POST", "/$process-message", lambda: example("process_message/POST-body.json"), "2000011147"),
    ("POST", "/$process-message", lambda: {"resourceType": "Bundle"}, "2000011147"),  # 400 structure
    ("GET", "/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7", None, "2000011147"),
    ("GET", "/Appointment/0d440c22-7f25-4c6c-905d-2213d197d02a", None, "2000011147"),  # 501 sentinel
    ("GET", f"/Appointment/{uuid.UUID(int=7)}", None, "2000011147"),  # 404
    ("GET", "/ServiceRequest/79120f41-a431-4f08-bcc5-1e67006fcae0", None, "2000011147"),
    ("GET", "/ServiceRequest/9d280ad9-6dda-46d2-a75e-f5b47b2f4e87", None, "2000011147"),  # 429 sentinel
    ("GET", f"/Appointment?patient%3Aidentifier={NHS}9054613556", None, "2000011147"),
    ("GET", f"/ServiceRequest?patient%3Aidentifier={NHS}9054613556", None, "2000011147"),
]


@dataclass
class Sent:
    kind: str
    ods: str
    correlation_id: str
    status: int
    report_id: str | None
    body: Any


def send(emulator: Emulator, kind: str, method: str, path: str, body: Any, target: str, ods: str) -> Sent:
    headers = bars_headers(target_value=target, ods=ods)
    raw = None
    if body is not None:
        headers["Content-Type"] = "application/fhir+json"
        raw = json.dumps(body).encode()
    result: HttpResult = emulator.bars(method, path, headers, raw)
    parsed = result.json if result.raw else None
    return Sent(kind, ods, headers["X-Correlation-Id"], result.status, result.header("TKW-Report-Id"), parsed)


def focus_id(body: Any, resource_type: str) -> str:
    return str(next(e["resource"]["id"] for e in body["entry"] if e["resource"]["resourceType"] == resource_type))


def run_wave(emulator: Emulator, jobs: list[Callable[[], Sent]]) -> list[Sent]:
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(lambda job: job(), jobs))


def test_500_concurrent_requests_lose_nothing_and_the_state_stays_consistent(emulator: Emulator) -> None:
    rng = random.Random(SEED)
    run = uuid.uuid4().hex[:5].upper()  # this run's organisations: its reports and state
    organisations = [f"L{i}{run}" for i in range(ORGANISATIONS)]
    stateful_ods = f"S{run}"

    def stateless_job() -> Callable[[], Sent]:
        method, path, body, target = rng.choice(STATELESS)
        ods = rng.choice(organisations)
        return lambda: send(emulator, "stateless", method, path, body() if body else None, target, ods)

    def stateful_job(kind: str, bundle: Callable[[], dict[str, Any]]) -> Callable[[], Sent]:
        return lambda: send(emulator, kind, "POST", "/$process-message", bundle(), "2000011147", stateful_ods)

    # Wave 1 (450): the mix, with 20 racing bookings of the stateful patient and requests that
    # must all be refused whatever the race does (mis-linked referrals, cancels of no referral).
    wave1 = [stateless_job() for _ in range(415)]
    wave1 += [stateful_job("book", booking_new) for _ in range(20)]
    wave1 += [stateful_job("mislinked", referral_as_published) for _ in range(10)]
    wave1 += [stateful_job("cancel-referral", referral_cancel) for _ in range(5)]
    rng.shuffle(wave1)
    first = run_wave(emulator, wave1)

    bookings = [s for s in first if s.kind == "book"]
    assert sorted(s.status for s in bookings) == [200] + [409] * 19, "exactly one booking wins the race"
    booked = focus_id(next(s.body for s in bookings if s.status == 200), "Appointment")
    assert {s.status for s in first if s.kind in ("mislinked", "cancel-referral")} <= {400, 409}

    # Wave 2 (50): 10 racing referrals linked to the booking, in more of the mix.
    wave2 = [stateless_job() for _ in range(40)]
    wave2 += [stateful_job("refer", lambda: referral(booked)) for _ in range(10)]
    rng.shuffle(wave2)
    second = run_wave(emulator, wave2)

    referrals = [s for s in second if s.kind == "refer"]
    assert sorted(s.status for s in referrals) == [200] + [409] * 9, "exactly one referral wins the race"
    referred = focus_id(next(s.body for s in referrals if s.status == 200), "ServiceRequest")

    sent = first + second
    assert len(sent) == 500
    assert all(s.status < 500 or s.status == 501 for s in sent), Counter(s.status for s in sent)

    # The stateful item agrees with the winners.
    stateful_headers = bars_headers(ods=stateful_ods)
    state = emulator.request("GET", "/tkw/state", stateful_headers).json
    assert (state["state"], state["appointment_id"], state["service_request_id"]) == (
        "referral-created",
        booked,
        referred,
    )
    reads = [
        send(emulator, "read", "GET", f"/Appointment/{booked}", None, "2000011147", stateful_ods),
        send(emulator, "read", "GET", f"/ServiceRequest/{referred}", None, "2000011147", stateful_ods),
    ]
    assert [(r.status, r.body["status"]) for r in reads] == [(200, "booked"), (200, "active")]
    sent += reads  # their reports are in the organisation's listing too

    # Every request has exactly one report, readable, and found by its correlation id.
    report_ids = [s.report_id for s in sent]
    assert all(report_ids), "every answer names its report"
    assert len(set(report_ids)) == len(report_ids), "no two answers name the same report"

    def read_back(s: Sent) -> str | None:
        report = emulator.request("GET", f"/tkw/reports/{s.report_id}", bars_headers(ods=s.ods))
        if report.status != 200:
            return f"{s.report_id}: GET answered {report.status}"
        record = report.json
        if (record["correlation_id"], record["exchange"]["response_status"]) != (s.correlation_id, s.status):
            return f"{s.report_id}: records {record['correlation_id']}/{record['exchange']['response_status']}"
        return None

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        problems = [p for p in pool.map(read_back, sent) if p]
    assert not problems, f"{len(problems)} of {len(sent)} reports not readable as sent: {problems[:10]}"

    for ods in [*organisations, stateful_ods]:
        listed = list_all(emulator, ods)
        expected = {s.correlation_id: [s.report_id] for s in sent if s.ods == ods}
        assert listed == expected, f"{ods}: the listing differs from what was sent"

    def filtered(s: Sent) -> str | None:
        found = emulator.request("GET", f"/tkw/reports?correlation_id={s.correlation_id}", bars_headers(ods=s.ods))
        ids = [r["id"] for r in found.json["reports"]] if found.status == 200 else found.status
        return None if ids == [s.report_id] else f"{s.correlation_id}: {ids}, expected [{s.report_id}]"

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        problems = [p for p in pool.map(filtered, rng.sample(sent, FILTER_SAMPLE)) if p]
    assert not problems, problems


def list_all(emulator: Emulator, ods: str) -> dict[str, list[str]]:
    """correlation id -> report ids, over every page of the organisation's listing."""
    by_correlation: dict[str, list[str]] = {}
    token: str | None = None
    for _ in range(50):  # bounded: 50 pages of 100 is far more than one run writes
        query = "?limit=100" + (f"&page_token={token}" if token else "")
        page = emulator.request("GET", f"/tkw/reports{query}", bars_headers(ods=ods))
        assert page.status == 200, page.raw[:300]
        for report in page.json["reports"]:
            by_correlation.setdefault(report["correlation_id"], []).append(report["id"])
        token = page.json.get("next_page_token")
        if not token:
            return by_correlation
    raise AssertionError(f"{ods}: the listing did not end")
