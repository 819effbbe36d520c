"""Report handoff: a full backlog slows the sender down, nothing is dropped, readers can wait."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tkw.http import ApiRequest, ApiResponse
from tkw.reports.handoff import InProcessHandoff, ReportsInProduction
from tkw.reports.job import ReportJob, new_report_id
from tkw.routes import Operation


def _job() -> ReportJob:
    request = ApiRequest(method="GET", path="/booking-and-referral/FHIR/R4/metadata")
    return ReportJob(
        report_id=new_report_id(), organisation="A1001", received=0.0, operation=Operation.METADATA,
        request=request, response=ApiResponse(200),
    )  # fmt: skip


def test_a_full_backlog_makes_the_sender_wait_until_a_report_is_stored() -> None:
    production = ReportsInProduction(bound=2)
    production.add("r1")
    production.add("r2")
    added = threading.Event()
    sender = threading.Thread(target=lambda: (production.add("r3"), added.set()))
    sender.start()
    assert not added.wait(0.3)  # still waiting: the backlog is full
    production.done(["r1"])
    assert added.wait(5)
    sender.join(5)
    assert {rid for rid, _ in production.outstanding()} == {"r2", "r3"}


def test_readers_wait_for_a_report_in_production_and_for_all_earlier_ones() -> None:
    production = ReportsInProduction()
    production.add("r1", "kept")
    assert production.wait_for("r1", 0.05) is False  # still in production
    assert production.wait_for("never-handed-over", 0.05) is True
    threading.Timer(0.1, production.done, args=(["r1"],)).start()
    production.settle(5)
    assert len(production) == 0
    assert production.wait_for("r1", 0.05) is True


def test_what_is_kept_for_a_report_can_be_given_after_it_was_added() -> None:
    production = ReportsInProduction()
    production.add("r1")  # in production from now on: readers wait for it
    assert production.wait_for("r1", 0.05) is False
    production.keep("r1", "message")
    assert production.outstanding() == [("r1", "message")]
    production.done(["r1"])
    production.keep("r1", "late")  # stored already: nothing comes back
    assert production.outstanding() == []


def test_giving_up_releases_every_waiting_sender() -> None:
    production = ReportsInProduction(bound=1)
    production.add("r1")
    sender = threading.Thread(target=production.add, args=("r2",))
    sender.start()
    production.give_up()
    sender.join(5)
    assert not sender.is_alive()


def test_a_batch_that_fails_is_produced_again_not_lost() -> None:
    attempts: list[list[str]] = []

    def flaky(jobs: Sequence[ReportJob]) -> list[str]:
        attempts.append([job.report_id for job in jobs])
        return [jobs[0].report_id] if len(attempts) == 1 else []  # the first job fails once

    handoff = InProcessHandoff(flaky)
    job = _job()
    handoff.submit(job)
    assert handoff.wait_for(job.report_id, 10)
    assert attempts[0] == [job.report_id] and attempts[-1] == [job.report_id] and len(attempts) == 2
