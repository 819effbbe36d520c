"""The local runner's second process: the embedded AWS, and the template's report worker function.

Deployed, the request path hands each report job to SQS and ``ReportWorkerFunction`` consumes the
queue. Locally that function runs here, fed through a socket pair, beside moto:

* **The embedded AWS lives here** (``mock_aws`` for this process's own calls, a moto server on a
  loopback port for the API process's calls and for presigned links; one state). Storing reports is
  most of the AWS work and it costs no HTTP round trip; the API process, which answers senders,
  spends none of its time on it.
* **Report production** (every check, the profiles, storage) runs on this process's main thread at
  a lower scheduling priority, on the machine's other core when there is one, so it never competes
  with senders' requests for the API process's interpreter lock.

The API process side (:class:`WorkerProcessHandoff`) hands a job over once the sender has its answer
(the HTTP server holds the jobs of a request until the answer is written: a sender never waits for
the job's serialisation or its trip to the worker), and keeps every job until the worker confirms it
stored, so nothing is lost: failed jobs are retried with backoff (writes are keyed by report id: a
job produced twice is stored once). Its backlog is bounded: when the worker falls behind,
``submit`` waits, slowing senders down rather than dropping reports, and a report a reader asks for
can be waited for. With ``--aws-endpoint`` (an AWS outside the runner) a worker that dies is started
again and given what was outstanding; hosting the AWS, it takes the state with it, and the runner
says so and stops waiting for it.
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
from collections.abc import Iterator
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
# The worker's full garbage collections: one every this many batches (see run_worker).
FULL_COLLECTION_BATCHES = 200


class WorkerProcessHandoff:
    """:class:`tkw.reports.handoff.ReportHandoff` to a report worker process (see the module)."""

    def __init__(self, template_path: Path, *, host_aws: bool, backlog: int = DEFAULT_BACKLOG) -> None:
        """Start the worker process; with ``host_aws`` it starts the embedded AWS first, whose
        endpoint is then :attr:`aws_endpoint`. It produces nothing until :meth:`configure`."""
        self._template_path = template_path
        self._host_aws = host_aws
        self._env: dict[str, str] | None = None
        self.aws_endpoint = ""
        from tkw.reports.handoff import ReportsInProduction

        # report id -> its job message, until the worker stored it (resent to a restarted worker)
        self._pending = ReportsInProduction(backlog)
        self._held = threading.local()  # per HTTP request: its jobs, until its answer is written
        self._closed = False
        self._send_lock = threading.Lock()
        self._restarts = 0
        self._start_worker()

    def configure(self, env: dict[str, str]) -> None:
        """The functions' environment (table and bucket names...): the worker loads its function."""
        self._env = env
        self._send(("env", env))

    # -- the ReportHandoff protocol ----------------------------------------------------------------

    def submit(self, job: ReportJob) -> None:
        # In production from now on (a reader of the id waits for it); waits while the backlog is full.
        self._pending.add(job.report_id)
        held: list[ReportJob] | None = getattr(self._held, "jobs", None)
        if held is None:
            self._hand_over(job)
        else:
            held.append(job)

    @contextlib.contextmanager
    def after_answer(self) -> Iterator[None]:
        """Jobs submitted inside the block go to the worker when it ends (the HTTP server writes the
        answer inside it), whatever happened to the answer."""
        self._held.jobs = []
        try:
            yield
        finally:
            held, self._held.jobs = self._held.jobs, None
            for job in held:
                self._hand_over(job)

    def _hand_over(self, job: ReportJob) -> None:
        message = job.to_message()
        self._pending.keep(job.report_id, message)
        self._send(("job", job.report_id, message))

    def wait_for(self, report_id: str, timeout: float) -> bool:
        return self._pending.wait_for(report_id, timeout)

    def settle(self, timeout: float) -> None:
        self._pending.settle(timeout)

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        self._closed = True
        self._pending.give_up()
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
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "tkw_local.report_worker", str(theirs.fileno()), str(self._template_path)]
        self._process = subprocess.Popen(  # noqa: S603 - our own module, our own interpreter
            [*command, *(["--host-aws"] if self._host_aws else [])],
            cwd=root,
            env=env,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        if self._host_aws:
            _, self.aws_endpoint = self._conn.recv()  # ("aws", url) once moto is serving
        threading.Thread(target=self._receive_loop, args=(self._conn,), name="tkw-report-acks", daemon=True).start()

    def _send(self, item: tuple[Any, ...]) -> None:
        # A worker that is gone: _receive_loop starts it again and resends everything pending.
        with self._send_lock, contextlib.suppress(OSError):
            self._conn.send(item)

    def _receive_loop(self, conn: Connection) -> None:
        while True:
            try:
                _, stored, abandoned = conn.recv()  # ("done", stored ids, abandoned ids)
            except (EOFError, OSError):
                break
            self._pending.done((*stored, *abandoned))
            if abandoned:
                log.error("Reports not produced after %d attempts: %s", RETRIES + 1, abandoned)
        if self._closed:
            return
        self._restarts += 1
        if self._host_aws or self._restarts > MAX_RESTARTS:
            if self._host_aws:
                log.error("The embedded AWS and report worker process stopped; restart the emulator")
            log.error("The report worker keeps stopping; %d reports are not produced", self.backlog)
            self._closed = True
            self._pending.give_up()  # senders must not wait for a worker that will not come back
            return
        log.error("The report worker stopped; starting it again with the %d reports outstanding", self.backlog)
        with self._send_lock:
            self._start_worker()
            # (a job not yet kept is still held by its request, which sends it to this new worker)
            outstanding = [("job", rid, message) for rid, message in self._pending.outstanding() if message]
        if self._env is not None:
            self._send(("env", self._env))
        for item in outstanding:
            self._send(item)


def run_worker(conn: Connection, template_path: str, host_aws: bool) -> None:
    """The worker process: (host the embedded AWS,) receive the functions' environment, then jobs;
    hand them to the report worker function in batches and say which were stored (or given up on)."""
    if host_aws:
        from tkw_local.backend import EmbeddedAws

        conn.send(("aws", EmbeddedAws().start()))
    early: list[tuple[str, str]] = []  # jobs resent to a restarted worker may overtake its env
    while (item := conn.recv())[0] != "env":
        early.append((item[1], item[2]))
    env: dict[str, str] = item[1]
    # This process calls the AWS it hosts in-process: the API process's endpoint is not ours.
    ours = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "MOTO_S3_CUSTOM_ENDPOINTS") if host_aws else ()
    os.environ.update({name: value for name, value in env.items() if name not in ours})
    from tkw_local.functions import load_function
    from tkw_local.template import Template

    template = Template.read(Path(template_path))
    spec = next(s for s in template.functions() if s.logical_id == WORKER_FUNCTION)
    function = load_function(template.root, spec)
    inbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    for job in early:
        inbox.put(job)

    def receive() -> None:
        while True:
            try:
                _, report_id, message = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the API process is gone
            inbox.put((report_id, message))

    threading.Thread(target=receive, name="jobs", daemon=True).start()
    gc.freeze()  # the imported modules live as long as the process: keep the collector off them
    # moto's server threads (the API process's calls) get the interpreter lock within 0.5 ms ...
    sys.setswitchinterval(0.0005)
    # ... and this thread, producing reports, yields the CPU to the sender's requests (Linux sets
    # a thread's own priority; elsewhere the whole process's, which is the same when not hosting).
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id() if host_aws else 0, 10)
    batches = 0
    while True:
        batch = dict([inbox.get()])
        # Gather for a moment: each batch costs a few storage calls whatever its size.
        deadline = time.monotonic() + GATHER_SECONDS
        while len(batch) < BATCH_SIZE:
            try:
                report_id, message = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            batch[report_id] = message
        stored, abandoned = _produce(function, batch)
        conn.send(("done", stored, abandoned))
        # What outlives a batch is mostly the embedded AWS's state, which only grows: out of the
        # collector's way, or every full collection walks all of it (a cost per report that grows
        # with the reports stored). The young generations are collected first; the cyclic garbage
        # that had aged into the old one (a few dozen objects a batch) goes in a full collection
        # every FULL_COLLECTION_BATCHES batches.
        batches += 1
        if batches % FULL_COLLECTION_BATCHES == 0:
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()


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
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server: no line per AWS call
    run_worker(Connection(int(sys.argv[1])), sys.argv[2], "--host-aws" in sys.argv[3:])
