"""The conversation with one printer: send a job, and let it go only once the paper shows it.

After each job the driver asks an in-order question (see ``status.py``, ``star.py``): one that
names the job where the printer answers it (Epson's GS ( H process ID, Star's ESC GS ETX
print-end counter), else one that names none (Epson's GS r, Star's ETB). The printer answers
when its engine gets there, so the answer proves the paper. ``dialects.py`` holds each
family's bytes; the conversation is the same. What a printer can do is learnt when its link
opens for the first time and after every failure: first its family (a Star printer answers
Star's status question, an Epson ignores it), unless the owner named its language, then its
confirmation level:

- ``paper``: in-order answers; a job is ``printed`` once its answer is back;
- ``received``: the printer answers real-time requests only; ``printed`` means it took every
  byte (a power cut before the paper may still lose the receipt);
- ``none``: a write-only link (``/dev/usb/lp0``); ``printed`` means written.

With process IDs the driver sends the next job while the previous one prints (up to WINDOW
jobs in the printer's hands) and confirms each by its own ID, so in a rush the printer never
waits for the box. A job whose bytes went out but whose answer did not come back is lost
with the link: every such job goes back to the head of the queue, in order, and prints again
under the REPRINT banner. A printer that stops (paper, cover) keeps its jobs: the job says
why it waits, and is confirmed when the printer finishes it. When the printer has been unable
to print for ``failover_after`` seconds, the jobs it does not hold yet move to its backup.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import redis

from appliance.errors import NotFound
from appliance.printing import dialects, jobs, languages, printers, star, translate
from appliance.printing import status as printer_status
from appliance.printing.transports import Transport, TransportError

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 3.0
PROBE_TIMEOUT = 1.5  # an idle printer answers an in-order request at once
DETECT_TIMEOUT = 0.5  # a Star printer answers its real-time status question at once
WINDOW = 3  # jobs sent ahead of their confirmation (process IDs only)
STATUS_EVERY = 1.0  # while jobs are in the printer's hands: how often to ask how it is
# A ready printer that confirms nothing for this long has lost what it held (it was reset
# without dropping the link): print it again.
LOST_AFTER = 60.0
BACKOFF_START, BACKOFF_CAP = 0.5, 30.0
NEEDS_A_PERSON_POLL = 2.0
IDLE_CLOSE = 5.0  # a network printer's port is given back after this much idle time
# A reading is written when it changes, and at least this often while the printer is read
# (between jobs, while printing): so an app's question finds one younger than printers.FRESH.
STATUS_REFRESH = printers.FRESH / 2

Method = Literal["process_id", "paper_status", "status", "none"]
LEVELS: dict[Method | None, str] = {"process_id": "paper", "paper_status": "paper", "status": "received",
                                    "none": "none", None: "unknown"}
Outcome = Literal["sent", "done", "requeued", "needs a person", "unreachable"]


class Stopping(Exception):
    """The worker was asked to stop while a job waited: the job stays pending and goes back to
    the head of the queue on the next start."""


@dataclass
class Sent:
    """A job in the printer's hands, waiting for its answer."""

    job_id: str
    pid: str | None  # the process ID asked after it (None: confirmed by order)


class PrinterDriver:
    """Owns the link to one printer. The job thread and the idle status poller share it
    under one lock; whoever holds the lock reads the printer's answers."""

    def __init__(self, r: redis.Redis, config: printers.PrinterConfig) -> None:
        self.r = r
        self.config = config
        self.link: Transport = config.transport()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.last_used = 0.0
        self.method: Method | None = None
        # What it answered before its link dropped, once a job proved it (see _learn).
        self._learnt: Method | None = None
        self._proven = False
        self.in_flight: deque[Sent] = deque()
        self.unable_since: float | None = None  # since when it cannot print (failover clock)
        self.failover_to: str | None = None
        self.worker_key: str | None = None  # rq's worker hash, its busy/idle state kept true
        self._reader = self.dialect.reader()
        self._statuses: deque[printer_status.PrinterStatus] = deque()
        self._asked = False  # a real-time status question is out, unanswered
        self._paper_answers = 0
        self._probe: str | None = None  # the process ID asked while learning
        self._said: list[str] = []  # GS I text answers, while learning
        self.identity: dict[str, str | None] = {"maker": None, "model": None}  # as the printer says (GS I)
        self._settled_at = 0.0  # last sign of progress from the printer, for LOST_AFTER
        self._pids = itertools.count()
        self._delay = BACKOFF_START
        self._next_try = 0.0
        self._shown: printers.PrinterState | None = None
        self._shown_at = 0.0

    @property
    def confirmation(self) -> str:
        return LEVELS[self.method]

    @property
    def dialect(self) -> dialects.Dialect:
        return dialects.for_language(self.config.language)

    # -- reading what the printer says ------------------------------------------------------

    def _take(self, data: bytes) -> None:
        for reading in self._reader.feed(data):
            if reading.kind == "status" and reading.status is not None:
                self._statuses.append(reading.status)
            elif reading.kind == "confirmed" and reading.token == self._probe:
                self._probe = None
            elif reading.kind == "confirmed":
                self._confirm(lambda sent, pid=reading.token: sent.pid == pid)
            elif reading.kind == "info":
                self._said.append(reading.text)
            elif reading.kind == "paper":
                self._paper_answers += 1
                if self.method == "paper_status" and self.in_flight:
                    self._confirm(lambda sent: sent is self.in_flight[0])

    def _confirm(self, match) -> None:
        """An in-order answer: the matching job, and any sent before it, are on paper."""
        for index, sent in enumerate(self.in_flight):
            if match(sent):
                for _ in range(index + 1):
                    done = self.in_flight.popleft()
                    jobs.mark_printed(self.r, done.job_id, self.config.name,
                                      idle_worker=None if self.in_flight else self.worker_key)
                self._settled_at = time.monotonic()
                self.unable_since = None
                self._proven = True
                return

    def _pump(self, timeout: float) -> None:
        """Read what the printer says: wait up to ``timeout`` for a first byte, then take
        whatever else is there."""
        first = self.link.read(1, timeout)
        if first:
            self._take(first + self.link.read(4096, 0))

    def _status(self, timeout: float = STATUS_TIMEOUT) -> printer_status.PrinterStatus:
        """Real time (DLE EOT, ESC ACK SOH): answered ahead of what the buffer holds, unless
        the buffer is full: then the question waits its turn to be read, and is not asked twice."""
        if not self.link.answers_status:
            return printer_status.PrinterStatus(True, "ok", False, False)
        if not self._asked:
            self._statuses.clear()
            self._reader.asked()
            self.link.write(self.dialect.status_request, on_input=self._take)
            self._asked = True
        deadline = time.monotonic() + timeout
        while not self._statuses and time.monotonic() < deadline:
            self._pump(deadline - time.monotonic())
        if not self._statuses:
            raise printer_status.StatusError(f"no status answer within {timeout:.1f} s")
        answer = self._statuses[-1]
        self._statuses.clear()
        self._asked = False
        return answer

    def _ask(self, request: bytes, answered: Callable[[], bool], then_status: bool = False) -> bool:
        """Send ``request`` and read until ``answered()``; ``then_status``: its answer shows in
        the status (Star's ETB counter), so keep asking for it meanwhile."""
        self.link.write(request, on_input=self._take)
        deadline = time.monotonic() + PROBE_TIMEOUT
        while not answered() and time.monotonic() < deadline:
            if then_status:
                with contextlib.suppress(printer_status.StatusError):
                    self._status(min(0.2, max(0.0, deadline - time.monotonic())))
            else:
                self._pump(deadline - time.monotonic())
        return answered()

    def _learn(self) -> None:
        """What confirmation the printer gives, asked while it is idle and ready."""
        if not self.link.answers_status:
            self.method = "none"
            return
        dialect = self.dialect
        self._probe = self._next_pid()
        before = self._paper_answers
        kept = False
        if self._ask(dialect.in_order_request(self._probe), lambda: self._probe is None):
            self.method = "process_id"
        elif kept := self._learnt in ("process_id", "paper_status"):
            # It proved in-order answers before its link dropped: not another printer, but one
            # still printing what it held (a USB printer unplugged keeps its buffer; so does
            # one whose network blinked). Its answers come once it gets there.
            self.method = self._learnt
        elif self._ask(dialect.paper_request, lambda: self._paper_answers > before,
                       then_status=dialect.family == "star"):
            self.method = "paper_status"
        else:
            self.method = "status"
        self._probe = None
        self._proven = False  # kept from before, it must prove itself again to be kept next time
        if self.method != "status" and not kept:  # it answers in order: who is it (virtual ports tell apps)
            self._said.clear()
            self._ask(dialect.identity_request, lambda: len(self._said) >= 2)
            said = [*self._said, None, None]
            if said[0] or said[1]:  # a printer still busy answers later: it keeps its name meanwhile
                self.identity = {"maker": said[0] or None, "model": said[1] or None}
        log.info("printer %s (%s) confirms jobs: %s", self.config.name, self.config.language, self.confirmation)

    def _detect(self) -> None:
        """Which family the printer is of, asked before anything else once its link opens to
        learn: Star's real-time status question (an Epson ignores it), then its model, which
        says its Star language. Unless the owner named the language; the answer is kept."""
        if self.config.language_forced or self.config.emulated or not self.link.answers_status:
            return  # named, the box's own (ESC/POS), or a link that answers nothing
        reader = dialects.STAR.reader()
        seen: list[dialects.Reading] = []
        self.link.write(star.STATUS_REQUEST, on_input=lambda data: seen.extend(reader.feed(data)))
        deadline = time.monotonic() + DETECT_TIMEOUT
        while not any(r.kind == "status" for r in seen) and time.monotonic() < deadline:
            data = self.link.read(1, deadline - time.monotonic())
            seen.extend(reader.feed(data + self.link.read(4096, 0) if data else b""))
        if not any(r.kind == "status" for r in seen):
            language = languages.ESCPOS
        else:
            self.link.write(star.MODEL_REQUEST, on_input=lambda data: seen.extend(reader.feed(data)))
            deadline = time.monotonic() + PROBE_TIMEOUT
            while len([r for r in seen if r.kind == "info"]) < 2 and time.monotonic() < deadline:
                data = self.link.read(1, deadline - time.monotonic())
                seen.extend(reader.feed(data + self.link.read(4096, 0) if data else b""))
            said = [r.text for r in seen if r.kind == "info"]
            language = dialects.star_language(said[1] if len(said) > 1 else None, self.config.language)
        if language != self.config.language:
            log.info("printer %s speaks %s (was taken for %s)", self.config.name, language, self.config.language)
            self.config = printers.learn_language(self.r, self.config.name, language)
        self._reader = self.dialect.reader()

    def _next_pid(self) -> str:
        return self.dialect.token(next(self._pids))

    # -- the link -----------------------------------------------------------------------

    def _open(self) -> None:
        if not self.link.is_open:
            self.link.open()
            self._reader = self.dialect.reader()
            self._statuses.clear()
            self._asked = False
            if self.method is None:
                self._detect()

    def _drop(self, problem: str) -> None:
        """The link failed. Every job in the printer's hands goes back to the head of the
        queue, in order, marked REPRINT: it may be on paper, in part or whole."""
        self.link.close()
        if self.method is not None:  # not again for each failed reconnection: it stays known
            self._learnt = self.method if self._proven else None
        self.method = None  # learn again: it may be another printer, or rebooted
        self._record(None, problem)
        ids = [sent.job_id for sent in self.in_flight]
        self.in_flight.clear()
        if ids:
            jobs.requeue(self.r, self.config.name, ids, f"interrupted while printing: {problem}")
            log.warning("printer %s: %d job(s) back at the head of the queue (%s)", self.config.name,
                        len(ids), problem)

    def _record(self, state: printer_status.PrinterStatus | None, problem: str | None = None,
                fresh: bool = False) -> None:
        """Publish the status for tablets; written only when it changes (or every
        STATUS_REFRESH seconds, so its time stays fresh; or when ``fresh``, a reading someone
        waits for), not twice per job."""
        if state is None:
            shown = printers.PrinterState(problem=problem or "unreachable")
        else:
            shown = printers.PrinterState(online=state.online, ready=state.ready, paper=state.paper,
                                          cover_open=state.cover_open, error=state.error,
                                          problem=problem or state.problem)
        self._publish(shown, fresh)

    def _publish(self, shown: printers.PrinterState, fresh: bool = False) -> None:
        shown = replace(shown, confirmation=self.confirmation, failover_to=self.failover_to, **self.identity)
        if fresh or shown != self._shown or time.monotonic() - self._shown_at > STATUS_REFRESH:
            printers.record_state(self.r, self.config.name, shown)
            self._shown, self._shown_at = shown, time.monotonic()

    def _close_if_idle(self) -> None:
        """Give an idle connection back: the printer may have dropped it meanwhile, and a
        network printer's port is free for other software between jobs."""
        if self.link.is_open and not self.in_flight and time.monotonic() - self.last_used > IDLE_CLOSE:
            self.link.close()

    def _healthy(self, state: printer_status.PrinterStatus) -> None:
        if state.ready:
            self.unable_since = None
            self.failover_to = None

    def _unable(self) -> None:
        self.unable_since = self.unable_since or time.monotonic()

    def _refresh_config(self) -> None:
        """The owner may have named the printer's language meanwhile: learn it again."""
        with contextlib.suppress(NotFound):
            fresh = printers.get(self.r, self.config.name)
            if (fresh.language, fresh.language_forced) != (self.config.language, self.config.language_forced):
                self.link.close()
                self.method = self._learnt = None
            self.config = fresh

    def poll_idle(self, fresh: bool = False) -> None:
        """Between jobs: refresh the status shown to tablets, learn what a new printer can
        do, and read the answers of jobs still printing. ``fresh``: an app waits for this
        reading (printers.fresh_state), so it is written even unchanged."""
        if not self.lock.acquire(blocking=False):
            return
        try:
            if not self.in_flight:
                self._refresh_config()
            if self.in_flight:
                try:
                    self._pump(0)
                except TransportError as exc:
                    self._drop(str(exc))
                return
            self._close_if_idle()
            try:
                self._open()
                state = self._status()
                if state.ready and self.method is None:
                    self._learn()
                self._healthy(state)
                self._record(state, fresh=fresh)
            except (TransportError, printer_status.StatusError) as exc:
                self.link.close()
                self._record(None, str(exc), fresh=fresh)
            finally:
                self._close_if_idle()
        finally:
            self.lock.release()

    # -- printing --------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopping()

    def print(self, job_id: str, queued: Callable[[], bool]) -> None:
        """Send one job; return once it is in the printer's hands (or done with). ``queued()``
        says whether more jobs wait behind it, to send them while this one prints."""
        while True:
            self._wait(max(0.0, self._next_try - time.monotonic()))
            if self._failover_due() and self._move_waiting(job_id):
                return
            with self.lock:
                outcome = self._try(job_id, queued)
            self.last_used = time.monotonic()
            if outcome in ("sent", "done", "requeued"):
                if outcome == "sent":
                    self._delay = BACKOFF_START
                return
            self._unable()
            if outcome == "needs a person":
                self._next_try = time.monotonic() + NEEDS_A_PERSON_POLL
                self._delay = BACKOFF_START
            else:
                self._next_try = time.monotonic() + self._delay
                self._delay = min(self._delay * 2, BACKOFF_CAP)
            if jobs.status_of(self.r, job_id) in (*jobs.FINAL, None):
                return  # cancelled while it waited

    def _try(self, job_id: str, queued: Callable[[], bool]) -> Outcome:
        """One attempt. The job's record tells tablets why it waits. With jobs already in the
        printer's hands, the last status stands: a question now would queue behind them."""
        self._close_if_idle()
        if not self.in_flight:
            try:
                self._open()
                state = self._status()
            except (TransportError, printer_status.StatusError) as exc:
                return self._unreachable(job_id, exc)
            self._healthy(state)
            self._record(state)
            if not state.ready:
                jobs.note_waiting(self.r, job_id, state.problem or "printer not ready")
                return "needs a person"
        else:
            state = printer_status.PrinterStatus(True, "ok", False, False)
        try:
            if self.method is None:
                self._learn()
        except (TransportError, printer_status.StatusError) as exc:
            return self._unreachable(job_id, exc)
        attempt = jobs.begin_attempt(self.r, job_id, self.worker_key)
        if attempt is None:
            return "done"  # cancelled meanwhile
        sent = Sent(job_id, self._next_pid() if self.method == "process_id" else None)
        language = self.config.language
        payload = translate.translate(attempt.payload, attempt.language, language, self.config.width)
        pieces = dialects.compose(payload, language, copies=attempt.copies, drawer=attempt.drawer,
                                  reprint=attempt.reprint, moved_from=attempt.moved_from, profile=self.config.profile)
        if sent.pid is not None:
            pieces.append(self.dialect.in_order_request(sent.pid))
        elif self.method == "paper_status":
            pieces.append(self.dialect.paper_request)
        self.in_flight.append(sent)
        try:
            for piece in pieces:
                self.link.write(piece, on_input=self._take)
            self._settled_at = time.monotonic()
            if self.method in ("process_id", "paper_status"):
                self._settle(queued)
            else:
                self._confirm_received(state)
        except (TransportError, printer_status.StatusError) as exc:
            self._drop(str(exc))
            return "requeued"
        return "sent"

    def _unreachable(self, job_id: str, exc: Exception) -> Outcome:
        self._drop(str(exc))
        jobs.note_waiting(self.r, job_id, f"printer unreachable: {exc}")
        return "unreachable"

    def _confirm_received(self, before: printer_status.PrinterStatus) -> None:
        """No in-order answers: a job counts once the printer has taken every byte (it
        answers a real-time request sent after them), or once written on a write-only link."""
        after = self._status(STATUS_TIMEOUT * 10) if self.method == "status" else before
        self._record(after)
        sent = self.in_flight.popleft()
        jobs.mark_printed(self.r, sent.job_id, self.config.name, warning=after.problem or "",
                          idle_worker=self.worker_key)

    def _settle(self, queued: Callable[[], bool]) -> None:
        """Wait for answers until the printer may take another job: fewer than WINDOW in its
        hands and another queued (it prints one while we send the next), or none left."""
        window = WINDOW if self.method == "process_id" else 1
        # Star's ETB names no job and shows only in the status: ask for it more often.
        every = 0.2 if self.method == "paper_status" and self.dialect.family == "star" else STATUS_EVERY
        asked = time.monotonic()
        while self.in_flight:
            if self.stop.is_set():
                raise Stopping()  # finish() collects what answers come in the grace time
            if len(self.in_flight) < window and queued():
                return
            self._pump(0.1 if len(self.in_flight) < window else 0.5)
            if not self.in_flight or time.monotonic() - asked < every:
                continue
            asked = time.monotonic()
            self._check_while_printing()

    def _check_while_printing(self) -> None:
        """Jobs are in the printer's hands: say why it stops, notice when it lost them."""
        oldest = self.in_flight[0].job_id
        try:
            state = self._status(0.5)
        except printer_status.StatusError:
            # Its buffer is full and it is not reading: printing, or stopped mid-receipt.
            if time.monotonic() - self._settled_at > NEEDS_A_PERSON_POLL * 2:
                jobs.note_waiting(self.r, oldest, "the printer stopped taking data mid-receipt (paper? cover?)")
                self._unable()
                self._move_if_due()
            return
        self._record(state)
        if not state.ready:
            jobs.note_waiting(self.r, oldest, f"{state.problem}: printing resumes when it is fixed")
            self._settled_at = time.monotonic()
            self._unable()
            self._move_if_due()
        elif time.monotonic() - self._settled_at > LOST_AFTER:
            raise TransportError(f"the printer confirmed nothing for {LOST_AFTER:.0f} s while ready")

    # -- failover --------------------------------------------------------------------

    def _failover_due(self) -> bool:
        if self.unable_since is None:
            return False
        with contextlib.suppress(NotFound):  # backup and delay may have changed meanwhile
            self.config = printers.get(self.r, self.config.name)
        return time.monotonic() - self.unable_since >= self.config.failover_after

    def _move_if_due(self) -> None:
        if self._failover_due():
            self._move_waiting(None)

    def _move_waiting(self, current: str | None) -> bool:
        """Move ``current`` and every queued job, in order, to a ready printer that can stand
        in. Jobs the printer holds stay: they print here when it is back."""
        target = printers.stand_in(self.r, self.config)
        if target is None:
            return False
        moved = jobs.move_waiting(self.r, self.config.name, target.name, current)
        if moved:
            log.warning("printer %s: %d job(s) moved to %s", self.config.name, moved, target.name)
        self.failover_to = target.name
        self._publish(self._shown or printers.PrinterState(problem="cannot print"))
        return current is not None

    # -- stopping --------------------------------------------------------------------

    def finish(self, grace: float) -> None:
        """Before the worker stops: collect the answers of the jobs the printer holds, for a
        little while; what is not confirmed by then is printed again after the restart."""
        deadline = time.monotonic() + grace
        with self.lock:
            try:
                while self.in_flight and time.monotonic() < deadline and self.link.is_open:
                    self._pump(0.1)
            except TransportError:
                pass
            self.link.close()
