"""Handing a report job from the request path to report production, in one cheap step.

* :class:`QueueHandoff` (deployed): one SQS ``SendMessage``; the report worker function consumes
  the queue (retries, then the dead-letter queue).
* :class:`InProcessHandoff` (tests, and wherever no queue is configured): a bounded in-memory queue
  drained by a worker thread in batches. When the backlog is full ``submit`` waits: senders slow
  down, no report is dropped. It also knows which reports are still in production, so a reader can
  wait for one.
* A host process that runs the report worker function itself (the local runner runs it in a
  process of its own) supplies its handoff with :func:`use_host_handoff`; it behaves the same way.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from tkw.reports.job import ReportJob

logger = logging.getLogger(__name__)

# Jobs the local worker takes at once: their index items go out in a few BatchWriteItem calls.
BATCH_SIZE = 50
DEFAULT_BACKLOG = 2000

Producer = Callable[[Sequence[ReportJob]], list[str]]


class ReportHandoff(Protocol):
    def submit(self, job: ReportJob) -> None:
        """Accept the job for production (may wait while the backlog is full; never drops it)."""
        ...

    def wait_for(self, report_id: str, timeout: float) -> bool:
        """Wait until ``report_id`` is known not to be in production (True: produced, or never
        handed over); False while it still is, or when this process cannot tell."""
        ...

    def settle(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until every report handed over before this call is stored."""
        ...


_host_handoff: ReportHandoff | None = None


def use_host_handoff(handoff: ReportHandoff | None) -> None:
    """Hand report jobs to ``handoff`` from now on (a host process that runs the report worker)."""
    global _host_handoff
    _host_handoff = handoff


def host_handoff() -> ReportHandoff | None:
    return _host_handoff


class QueueHandoff:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    def submit(self, job: ReportJob) -> None:
        if self._client is None:
            from tkw.adapters.aws import client

            self._client = client("sqs")
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=job.to_message())

    def wait_for(self, report_id: str, timeout: float) -> bool:
        return False  # another function produces it: the reader answers "pending" until it is stored

    def settle(self, timeout: float) -> None:
        return None  # the queue's backlog is not visible from here: listings show what is stored


class ReportsInProduction:
    """Report ids handed over and not yet stored (each with what the handoff keeps for it), at most
    ``bound`` of them: ``add`` waits while full, readers wait for one id or for all earlier ones."""

    def __init__(self, bound: int | None = None) -> None:
        self._items: dict[str, Any] = {}
        self._bound = bound
        self._closed = False
        self._changed = threading.Condition()

    def add(self, report_id: str, kept: Any = None) -> None:
        with self._changed:
            while self._bound is not None and len(self._items) >= self._bound and not self._closed:
                self._changed.wait(1.0)  # back-pressure: the sender waits, no report is dropped
            self._items[report_id] = kept

    def keep(self, report_id: str, kept: Any) -> None:
        """What to keep for ``report_id`` (if still in production), when it was added without."""
        with self._changed:
            if report_id in self._items:
                self._items[report_id] = kept

    def done(self, report_ids: Iterable[str]) -> None:
        with self._changed:
            for report_id in report_ids:
                self._items.pop(report_id, None)
            self._changed.notify_all()

    def give_up(self) -> None:
        """Nothing more will be produced: stop every wait (the ids are forgotten)."""
        with self._changed:
            self._closed = True
            self._items.clear()
            self._changed.notify_all()

    def outstanding(self) -> list[tuple[str, Any]]:
        with self._changed:
            return list(self._items.items())

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def wait_for(self, report_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while report_id in self._items:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def settle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            earlier = set(self._items)
            while earlier & self._items.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)


class InProcessHandoff:
    def __init__(self, produce: Producer, backlog: int = DEFAULT_BACKLOG, retries: int = 3) -> None:
        self._produce = produce
        self._queue: queue.Queue[ReportJob] = queue.Queue(maxsize=backlog)
        self._retries = retries
        self._pending = ReportsInProduction()  # bounded by the queue
        self._thread = threading.Thread(target=self._run, name="tkw-report-worker", daemon=True)
        self._thread.start()

    def submit(self, job: ReportJob) -> None:
        self._pending.add(job.report_id)
        self._queue.put(job)  # blocks while the backlog is full: back-pressure, not loss

    def wait_for(self, report_id: str, timeout: float) -> bool:
        return self._pending.wait_for(report_id, timeout)

    def settle(self, timeout: float) -> None:
        self._pending.settle(timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH_SIZE:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._produce_with_retries(batch)
            self._pending.done(job.report_id for job in batch)

    def _produce_with_retries(self, batch: list[ReportJob]) -> None:
        todo = batch
        for attempt in range(self._retries + 1):
            try:
                failed = set(self._produce(todo))
            except Exception:
                logger.exception("Report production failed for a batch of %d", len(todo))
                failed = {job.report_id for job in todo}
            todo = [job for job in todo if job.report_id in failed]
            if not todo:
                return
            time.sleep(0.1 * 2**attempt)
        logger.error("Reports not produced after %d attempts: %s", self._retries + 1, [j.report_id for j in todo])
