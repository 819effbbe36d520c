"""The local runner's report worker: the template's report worker function in a process of its own.

Deployed, the request path hands each report job to SQS and ``ReportWorkerFunction`` consumes the
queue. Locally that function runs in a second process, fed through a pipe: report production (every
check, the profiles, storage) uses the machine's other core instead of competing with the sender's
requests for the interpreter lock, and no queue round trip is paid per request. The worker stores
through the embedded AWS's moto server, in batches, so the records land in the same state the API
process reads in-process.

The API process side (:class:`WorkerProcessHandoff`) keeps every job until the worker confirms it
stored, so nothing is lost: failed jobs are retried with backoff, and a worker that dies is started
again and given what was outstanding (writes are keyed by report id: a job produced twice is stored
once). Its backlog is bounded: when the worker falls behind, ``submit`` waits, slowing senders down
rather than dropping reports, and a report a reader asks for can be waited for.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the layer is on sys.path only once the functions are loaded
    from tkw.reports.job import ReportJob

log = logging.getLogger("tkw.local.reports")

WORKER_FUNCTION = "ReportWorkerFunction"
# As many jobs as the template's SQS event source hands the function at once.
BATCH_SIZE = 100
RETRIES = 3
# Reports still to be produced before senders wait: about three seconds of the worker's work, so a
# report is readable within seconds of its answer even after a burst (REPORT_BACKLOG overrides).
DEFAULT_BACKLOG = 1000
MAX_RESTARTS = 5
# How long the worker gathers jobs into a batch (a report is readable this much later, at most).
GATHER_SECONDS = 0.1


class WorkerProcessHandoff:
    """:class:`tkw.reports.handoff.ReportHandoff` to a report worker process (see the module)."""

    def __init__(self, template_path: Path, env: dict[str, str], backlog: int = DEFAULT_BACKLOG) -> None:
        self._template_path = template_path
        self._env = env
        self._backlog = backlog
        self._pending: dict[str, str] = {}  # report id -> job message, until the worker stored it
        self._changed = threading.Condition()
        self._outbox: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._closed = False
        self._send_lock = threading.Lock()
        self._restarts = 0
        self._start_worker()
        threading.Thread(target=self._send_loop, name="tkw-report-handoff", daemon=True).start()

    # -- the ReportHandoff protocol ----------------------------------------------------------------

    def submit(self, job: ReportJob) -> None:
        message = job.to_message()
        with self._changed:
            while len(self._pending) >= self._backlog and not self._closed:
                self._changed.wait(1.0)  # back-pressure: the sender waits, no report is dropped
            self._pending[job.report_id] = message
        self._outbox.put((job.report_id, message))

    def wait_for(self, report_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while report_id in self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def settle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            earlier = set(self._pending)
            while earlier & self._pending.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    @property
    def backlog(self) -> int:
        with self._changed:
            return len(self._pending)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._outbox.put(None)
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()

    # -- the worker process ------------------------------------------------------------------------

    def _start_worker(self) -> None:
        # A fresh interpreter (not a fork: no threads, locks or in-process mocks inherited), talking
        # over a socket pair with multiprocessing's framing.
        ours, theirs = socket.socketpair()
        root = self._template_path.resolve().parent
        env = {**self._env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), self._env.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(  # noqa: S603 - our own module, our own interpreter
            [sys.executable, "-m", "tkw_local.report_worker", str(theirs.fileno()), str(self._template_path)],
            cwd=root,
            env=env,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        threading.Thread(target=self._receive_loop, args=(self._conn,), name="tkw-report-acks", daemon=True).start()

    def _send_loop(self) -> None:
        while (item := self._outbox.get()) is not None:
            self._send(item)

    def _send(self, item: tuple[str, str]) -> None:
        # A worker that is gone: _receive_loop starts it again and resends everything pending.
        with self._send_lock, contextlib.suppress(OSError):
            self._conn.send(item)

    def _receive_loop(self, conn: Connection) -> None:
        while True:
            try:
                stored, abandoned = conn.recv()
            except (EOFError, OSError):
                break
            with self._changed:
                for report_id in (*stored, *abandoned):
                    self._pending.pop(report_id, None)
                self._changed.notify_all()
            if abandoned:
                log.error("Reports not produced after %d attempts: %s", RETRIES + 1, abandoned)
        if self._closed:
            return
        self._restarts += 1
        if self._restarts > MAX_RESTARTS:
            log.error("The report worker keeps stopping; %d reports are not produced", self.backlog)
            with self._changed:  # senders must not wait for a worker that will not come back
                self._closed = True
                self._pending.clear()
                self._changed.notify_all()
            return
        log.error("The report worker stopped; starting it again with the %d reports outstanding", self.backlog)
        with self._send_lock:
            self._start_worker()
            with self._changed:
                outstanding = list(self._pending.items())
        for item in outstanding:
            self._send(item)


def run_worker(conn: Connection, template_path: str) -> None:
    """The worker process: receive jobs, hand them to the report worker function in batches, and
    say which were stored (or given up on after retries)."""
    # Behind the sender's requests on a shared core: the API process answers first, reports fill
    # the gaps (the backlog bound slows senders down if the gaps are not enough).
    os.nice(10)
    from tkw_local.functions import load_function
    from tkw_local.template import Template

    template = Template.read(Path(template_path))
    spec = next(s for s in template.functions() if s.logical_id == WORKER_FUNCTION)
    function = load_function(template.root, spec)
    inbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()

    def receive() -> None:
        while True:
            try:
                inbox.put(conn.recv())
            except (EOFError, OSError):
                os._exit(0)  # the API process is gone

    threading.Thread(target=receive, name="jobs", daemon=True).start()
    gc.freeze()  # the imported modules live as long as the process: keep the collector off them
    while True:
        batch = dict([inbox.get()])
        # Gather for a moment: each batch costs a few storage calls whatever its size, and one
        # report per batch would spend the embedded AWS's time (the API process's) per request.
        deadline = time.monotonic() + GATHER_SECONDS
        while len(batch) < BATCH_SIZE:
            try:
                report_id, message = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            batch[report_id] = message
        stored, abandoned = _produce(function, batch)
        conn.send((stored, abandoned))


def _produce(function: Any, batch: dict[str, str]) -> tuple[list[str], list[str]]:
    from tkw_local.functions import sqs_event

    todo = dict(batch)
    for attempt in range(RETRIES + 1):
        messages = [{"MessageId": rid, "ReceiptHandle": rid, "Body": body} for rid, body in todo.items()]
        try:
            result = function.invoke(sqs_event(messages, f"arn:aws:sqs:eu-west-2:123456789012:{WORKER_FUNCTION}")) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            logging.getLogger("tkw.local.reports").exception("The report worker failed on a batch of %d", len(todo))
            failed = set(todo)
        todo = {rid: body for rid, body in todo.items() if rid in failed}
        if not todo:
            break
        time.sleep(0.1 * 2**attempt)
    return [rid for rid in batch if rid not in todo], list(todo)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    run_worker(Connection(int(sys.argv[1])), sys.argv[2])
