"""The stateful 111-to-ED scenario on DynamoDB (moto): items, conditional writes, expiry, races.

Most tests use in-process moto with the template's own table (the ``aws`` fixture). The race runs
against moto's *server* on a free port with real threads over HTTP, as the local runner does.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from bars_support import ROOT, assert_outcome
from botocore.config import Config
from moto.server import ThreadedMotoServer
from unit.stateful.stateful_bundles import (
    PATIENT,
    booking_cancel,
    booking_new,
    referral,
    referral_as_published,
    referral_cancel,
    request_for,
)
from unit.stateful.test_stateful_machine import SEED_TABLE

from tkw.adapters.state_store import DynamoStateStore
from tkw.fhir.outcome import BarsError
from tkw.message_kinds import MessageKind
from tkw.stateful import (
    State,
    apply,
    get_state,
    read_appointment,
    read_service_request,
    reset,
)
from tkw.stateful.clock import next_london_midnight
from tkw.stateful.machine import Event
from tkw.stateful.store import Commit, StateRecord
from tkw_local.backend import Resolver, serialise_dynamodb
from tkw_local.template import Template

ODS = "A1001"
NOON = datetime(2026, 5, 12, 12, 0, tzinfo=UTC).timestamp()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


@pytest.fixture
def store(aws: Resolver) -> DynamoStateStore:
    return DynamoStateStore(os.environ["TABLE_NAME"])


def raw_item(store: DynamoStateStore, pk: str, sk: str) -> dict[str, Any] | None:
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    item: dict[str, Any] | None = store.client.get_item(TableName=store.table_name, Key=key).get("Item")
    return item


def drive_to(state: State, store: Any, ods: str = ODS, now: float = NOON) -> dict[str, str]:
    ids: dict[str, str] = {}
    if state is State.INITIAL:
        return ids
    booked = apply(MessageKind.BOOKING_NEW, booking_new(), ods, store, now)
    assert booked is not None
    ids["appointment"] = booked.resource_id
    if state is State.REFERRAL_CREATED:
        linked = apply(MessageKind.REFERRAL_NEW, referral(booked.resource_id), ods, store, now)
        assert linked is not None
        ids["service_request"] = linked.resource_id
    return ids


# -- the table, on DynamoDB ----------------------------------------------------------------------


@pytest.mark.parametrize(("event", "state"), sorted(SEED_TABLE, key=str))
def test_every_cell_on_dynamodb(store: DynamoStateStore, event: Event, state: State) -> None:
    ids = drive_to(state, store)
    before = raw_item(store, f"STATE#{ODS}", f"PATIENT#{PATIENT}")
    status, after, bars_code, diagnostics = SEED_TABLE[(event, state)]
    kind, bundle = request_for(event, ids.get("appointment"))
    if status == 200:
        result = apply(kind, bundle, ODS, store, NOON)
        assert result is not None and result.state is after
    else:
        with pytest.raises(BarsError) as caught:
            apply(kind, bundle, ODS, store, NOON)
        assert caught.value.status == status
        issue = assert_outcome(caught.value.outcome(), str(bars_code))
        assert issue["diagnostics"].startswith(str(diagnostics))
        assert raw_item(store, f"STATE#{ODS}", f"PATIENT#{PATIENT}") == before, "no write on a refusal"
    assert get_state(ODS, store, NOON).state is after


def test_item_layout(store: DynamoStateStore) -> None:
    ids = drive_to(State.REFERRAL_CREATED, store)
    midnight = next_london_midnight(NOON)
    state = raw_item(store, "STATE#A1001", "PATIENT#9707606312")
    assert state is not None
    assert state["state"] == {"S": "referral-created"}
    assert state["appointment_id"] == {"S": ids["appointment"]}
    assert state["service_request_id"] == {"S": ids["service_request"]}
    assert state["expires_at"] == {"N": str(midnight)}
    assert uuid.UUID(state["version"]["S"]) and uuid.UUID(state["generation"]["S"])
    for resource_id, resource_type, status in (
        (ids["appointment"], "Appointment", "booked"),
        (ids["service_request"], "ServiceRequest", "active"),
    ):
        item = raw_item(store, f"STATEFUL-ID#{resource_id}", "RESOURCE")
        assert item is not None
        assert (item["resource_type"]["S"], item["ods"]["S"], item["status"]["S"]) == (resource_type, ODS, status)
        assert item["generation"] == state["generation"]
        assert item["expires_at"] == {"N": str(midnight)}
        assert PATIENT not in item["pk"]["S"]


def test_gets_follow_the_status_and_the_ids_are_fresh_uuid4(store: DynamoStateStore) -> None:
    ids = drive_to(State.REFERRAL_CREATED, store)
    assert {uuid.UUID(i).version for i in ids.values()} == {4}
    appointment = read_appointment(ids["appointment"], store, NOON)
    assert appointment is not None and (appointment["id"], appointment["status"]) == (ids["appointment"], "booked")
    assert appointment["resourceType"] == "Appointment" and appointment.get("slot"), "the booking's own content"
    service_request = read_service_request(ids["service_request"], store, NOON)
    assert service_request is not None and service_request["status"] == "active"
    apply(MessageKind.REFERRAL_CANCEL, referral_cancel(), ODS, store, NOON)
    assert read_service_request(ids["service_request"], store, NOON)["status"] == "revoked"  # type: ignore[index]
    apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)
    assert read_appointment(ids["appointment"], store, NOON)["status"] == "cancelled"  # type: ignore[index]
    assert read_appointment(str(uuid.uuid4()), store, NOON) is None
    assert read_appointment(ids["service_request"], store, NOON) is None


def test_follow_ons_rebook_and_relink(store: DynamoStateStore) -> None:
    ids = drive_to(State.REFERRAL_CREATED, store)
    apply(MessageKind.REFERRAL_CANCEL, referral_cancel(), ODS, store, NOON)
    relinked = apply(MessageKind.REFERRAL_NEW, referral(ids["appointment"]), ODS, store, NOON)
    assert relinked is not None and relinked.state is State.REFERRAL_CREATED
    apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)
    assert read_service_request(relinked.resource_id, store, NOON)["status"] == "revoked"  # type: ignore[index]
    rebooked = apply(MessageKind.BOOKING_NEW, booking_new(official=True), ODS, store, NOON)
    assert rebooked is not None and rebooked.resource_id != ids["appointment"]
    with pytest.raises(BarsError) as caught:  # the referral still points at the old booking
        apply(MessageKind.REFERRAL_NEW, referral(ids["appointment"]), ODS, store, NOON)
    assert caught.value.status == 409


def test_isolation(store: DynamoStateStore) -> None:
    a = drive_to(State.REFERRAL_CREATED, store, "A1001")
    assert get_state("B2002", store, NOON).state is State.INITIAL
    b = drive_to(State.APPOINTMENT_BOOKED, store, "B2002")
    with pytest.raises(BarsError):
        apply(MessageKind.REFERRAL_NEW, referral_as_published(), "B2002", store, NOON)
    reset("A1001", store)
    assert get_state("B2002", store, NOON).appointment_id == b["appointment"]
    assert read_appointment(b["appointment"], store, NOON) is not None
    assert read_appointment(a["appointment"], store, NOON) is None


def test_reset_now(store: DynamoStateStore) -> None:
    ids = drive_to(State.REFERRAL_CREATED, store)
    reset(ODS, store)
    assert raw_item(store, f"STATE#{ODS}", f"PATIENT#{PATIENT}") is None
    assert get_state(ODS, store, NOON).state is State.INITIAL
    assert read_appointment(ids["appointment"], store, NOON) is None
    assert read_service_request(ids["service_request"], store, NOON) is None
    again = drive_to(State.APPOINTMENT_BOOKED, store)
    assert read_appointment(again["appointment"], store, NOON) is not None
    assert read_appointment(ids["appointment"], store, NOON) is None, "old ids stay gone in the new generation"


@pytest.mark.parametrize(
    ("booked_at", "reset_at"),
    [
        (utc(2026, 1, 15, 9, 0), utc(2026, 1, 16, 0, 0)),  # ordinary GMT day
        (utc(2026, 6, 10, 9, 0), utc(2026, 6, 10, 23, 0)),  # ordinary BST day
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 23, 0)),  # spring forward: 23-hour day
        (utc(2026, 10, 24, 23, 30), utc(2026, 10, 26, 0, 0)),  # fall back: 25-hour day
    ],
)
def test_nightly_reset_with_lazy_ttl(store: DynamoStateStore, booked_at: float, reset_at: float) -> None:
    ids = drive_to(State.REFERRAL_CREATED, store, now=booked_at)
    item = raw_item(store, f"STATE#{ODS}", f"PATIENT#{PATIENT}")
    assert item is not None and int(item["expires_at"]["N"]) == int(reset_at)
    assert get_state(ODS, store, reset_at - 1).state is State.REFERRAL_CREATED
    # moto (like DynamoDB, for a while) keeps the expired item: reads must ignore it ...
    assert raw_item(store, f"STATE#{ODS}", f"PATIENT#{PATIENT}") is not None
    assert get_state(ODS, store, reset_at).state is State.INITIAL
    assert read_appointment(ids["appointment"], store, reset_at) is None
    assert read_service_request(ids["service_request"], store, reset_at) is None
    # ... and a booking may overwrite it (condition: absent OR expires_at <= now).
    fresh = apply(MessageKind.BOOKING_NEW, booking_new(), ODS, store, reset_at)
    assert fresh is not None and fresh.state is State.APPOINTMENT_BOOKED
    item = raw_item(store, f"STATE#{ODS}", f"PATIENT#{PATIENT}")
    assert item is not None and int(item["expires_at"]["N"]) == next_london_midnight(reset_at)


def test_commit_refuses_a_stale_read(store: DynamoStateStore) -> None:
    drive_to(State.APPOINTMENT_BOOKED, store)
    stale = store.read_state(ODS)
    assert stale is not None
    apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)  # moves the version on
    change = Commit(StateRecord(ODS, State.INITIAL, stale.generation, str(uuid.uuid4()), stale.expires_at))
    assert store.commit(stale, change, NOON) is False
    assert store.commit(None, change, NOON) is False, "'absent' is not true either: the item is live"
    assert get_state(ODS, store, NOON).state is State.INITIAL


def test_a_foreign_item_under_the_key_reads_as_no_state(store: DynamoStateStore) -> None:
    store.client.put_item(
        TableName=store.table_name,
        Item={"pk": {"S": f"STATE#{ODS}"}, "sk": {"S": f"PATIENT#{PATIENT}"}, "state": {"S": "bogus"}},
    )
    assert store.read_state(ODS) is None
    assert store.read_resource("nope") is None


def test_the_client_is_created_lazily() -> None:
    lazy = DynamoStateStore("no-such-table")
    assert lazy._client is None  # nothing made at construction (or import)


# -- the race, over HTTP against moto's server -----------------------------------------------------


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server on a free port, its DynamoDB backend serialised like one DynamoDB partition.

    moto runs each HTTP request on its own thread but its DynamoDB backend is not thread-safe: a
    TransactWriteItems checks conditions and writes without a lock (two concurrent conditional
    puts can both succeed, and its table deepcopy can fail mid-write). Real DynamoDB applies
    conditional writes to an item one at a time, so we give moto one lock per backend call. The
    client threads still race freely between their reads and their conditional writes.
    """
    serialise_dynamodb()  # the same guard the local runner installs
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def server_store(moto_server: str) -> DynamoStateStore:
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_server,
        region_name="eu-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=64, retries={"max_attempts": 3, "mode": "standard"}),
    )
    template = Template.read(ROOT / "template.yaml")
    (props,) = (
        Resolver(parameters={}).resolve(res["Properties"])
        for res in template.resources_of_type("AWS::DynamoDB::Table").values()
    )
    table = f"stateful-race-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props["BillingMode"],
    )
    return DynamoStateStore(table, client=client)


def race(n: int, action: Callable[[], Any]) -> list[int | str]:
    """Run ``action`` on ``n`` threads released together; each thread's HTTP-like status."""
    barrier = threading.Barrier(n)
    results: list[int | str] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            action()
            outcome: int | str = 200
        except BarsError as err:
            outcome = err.status
        except Exception as err:  # a crash must fail the test, not vanish in a thread
            outcome = repr(err)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_24_parallel_bookings_exactly_one_wins(server_store: DynamoStateStore) -> None:
    results = race(24, lambda: apply(MessageKind.BOOKING_NEW, booking_new(), ODS, server_store, NOON))
    assert sorted(results, key=str) == [200] + [409] * 23
    view = get_state(ODS, server_store, NOON)
    assert view.state is State.APPOINTMENT_BOOKED and view.appointment_id is not None
    assert read_appointment(view.appointment_id, server_store, NOON) is not None


class ReadTogether:
    """Holds every thread after its first read until all have read: the worst interleaving."""

    def __init__(self, inner: DynamoStateStore, n: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(n)
        self.local = threading.local()

    def read_state(self, ods: str) -> StateRecord | None:
        record = self.inner.read_state(ods)
        if not getattr(self.local, "waited", False):
            self.local.waited = True
            self.barrier.wait(timeout=30)
        return record

    def commit(self, expected: StateRecord | None, change: Commit, now: float) -> bool:
        return self.inner.commit(expected, change, now)

    def read_resource(self, resource_id: str) -> Any:
        return self.inner.read_resource(resource_id)

    def delete_state(self, ods: str) -> None:
        self.inner.delete_state(ods)


def test_when_all_24_read_initial_before_anyone_writes_still_one_wins(server_store: DynamoStateStore) -> None:
    together = ReadTogether(server_store, 24)
    results = race(24, lambda: apply(MessageKind.BOOKING_NEW, booking_new(), ODS, together, NOON))
    assert sorted(results, key=str) == [200] + [409] * 23


def test_concurrent_linked_referrals_and_cancels(server_store: DynamoStateStore) -> None:
    booked = drive_to(State.APPOINTMENT_BOOKED, server_store)["appointment"]
    together = ReadTogether(server_store, 12)
    results = race(12, lambda: apply(MessageKind.REFERRAL_NEW, referral(booked), ODS, together, NOON))
    assert sorted(results, key=str) == [200] + [409] * 11
    together = ReadTogether(server_store, 12)
    results = race(12, lambda: apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, together, NOON))
    assert sorted(results, key=str) == [200] + [400] * 11
    assert get_state(ODS, server_store, NOON).state is State.INITIAL


class Unconditional(DynamoStateStore):
    """A broken store that writes without its condition: the negative control for the race tests."""

    def commit(self, expected: StateRecord | None, change: Commit, now: float) -> bool:
        # "absent or expired by the year 33658": a condition every item meets, i.e. none at all.
        return super().commit(None, change, 10**12)


def test_the_race_test_detects_a_missing_condition(server_store: DynamoStateStore) -> None:
    broken = ReadTogether(Unconditional(server_store.table_name, client=server_store.client), 24)
    results = race(24, lambda: apply(MessageKind.BOOKING_NEW, booking_new(), ODS, broken, NOON))
    assert results.count(200) > 1, "without the conditional write, several bookings 'win'"
