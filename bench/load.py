"""The load generator: simulated callers in separate processes, each caller a thread.

Each caller is voice/simulator/phone.py's Phone.over_http, so every request is signed
as Twilio signs it and every answer is played as Twilio plays it. The callers
run in their own processes so that the client does not starve the server of
the GIL; on a machine with 2 cores they still share the CPUs, which is why
every figure is compared with a baseline measured the same way in the same run.
"""

from __future__ import annotations

import multiprocessing
import random
import resource
import threading
import time
from dataclasses import dataclass, field

from voice.simulator.phone import Exchange, Phone

# The German happy path: language, postcode, "that is right", the kind of help,
# then "#" at the beep (no message). The postcode and kind vary per call.
POSTCODES = ["10115", "10997", "12043", "13353", "10405", "12161", "14057", "13585", "12627"]
TWILIO_TIMEOUT = 15.0  # Twilio gives up on a webhook after 15 seconds


@dataclass(frozen=True)
class LoadPlan:
    """Who calls, how often, and how long they wait before each key."""

    server_url: str
    auth_token: str
    public_base_url: str
    callers: int
    processes: int = 2
    duration: float | None = None  # keep calling until then (seconds); else one call each
    think: float = 0.0  # mean seconds a caller waits before each key (+-50%)
    ramp: float = 0.0  # callers start spread over this many seconds
    # Part of every caller's number: a number seen before with an open request
    # would hear its request again instead of making a new one.
    run_id: int = field(default_factory=lambda: int(time.time() * 10) % 1_000_000)


@dataclass
class CallerResults:
    latencies_ms: list[float] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # call SIDs that heard their code
    intervals: list[tuple[float, float]] = field(default_factory=list)  # start, end of calls
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    calls_started: int = 0

    def merge(self, other: CallerResults) -> None:
        self.latencies_ms += other.latencies_ms
        self.completed += other.completed
        self.intervals += other.intervals
        self.errors += other.errors
        self.requests += other.requests
        self.calls_started += other.calls_started


@dataclass
class LoadResults(CallerResults):
    elapsed: float = 0.0
    client_cpu_seconds: float = 0.0

    @property
    def peak_concurrent_calls(self) -> int:
        events = sorted([(s, 1) for s, _ in self.intervals] + [(e, -1) for _, e in self.intervals])
        peak = current = 0
        for _, step in events:
            current += step
            peak = max(peak, current)
        return peak


class TimedTransport:
    """Wraps a phone's transport: times every request, counts non-200 answers as errors."""

    def __init__(self, inner, results: CallerResults, lock: threading.Lock):
        self.inner = inner
        self.results = results
        self.lock = lock

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> Exchange:
        started = time.perf_counter()
        exchange = self.inner.post(url, params, headers)
        ms = (time.perf_counter() - started) * 1000
        with self.lock:
            self.results.latencies_ms.append(ms)
            self.results.requests += 1
        return exchange


def run(plan: LoadPlan) -> LoadResults:
    """Run the plan's callers in `plan.processes` processes; their merged results."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 0.5
    shares = [plan.callers // plan.processes] * plan.processes
    for i in range(plan.callers % plan.processes):
        shares[i] += 1
    cpu_before = _children_cpu()
    workers = [
        context.Process(target=_process, args=(plan, share, index, start_at, queue))
        for index, share in enumerate(shares)
        if share
    ]
    for worker in workers:
        worker.start()
    merged = LoadResults()
    for _ in workers:
        merged.merge(queue.get())
    for worker in workers:
        worker.join()
    merged.elapsed = max((e for _, e in merged.intervals), default=start_at) - start_at
    merged.client_cpu_seconds = _children_cpu() - cpu_before
    return merged


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process(plan: LoadPlan, callers: int, index: int, start_at: float, queue) -> None:
    results = CallerResults()
    lock = threading.Lock()
    time.sleep(max(0.0, start_at - time.time()))
    threads = [
        threading.Thread(target=_caller, args=(plan, index, n, start_at, results, lock))
        for n in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def _caller(plan, process_index, caller_index, start_at, results, lock) -> None:
    rng = random.Random(f"{process_index}-{caller_index}")
    phone = Phone.over_http(
        plan.server_url, plan.auth_token, plan.public_base_url, timeout=TWILIO_TIMEOUT
    )
    phone.transport = TimedTransport(phone.transport, results, lock)
    time.sleep(rng.uniform(0, plan.ramp) if plan.ramp else 0)
    deadline = start_at + plan.duration if plan.duration else None
    n = 0
    while True:
        number = f"+49{plan.run_id:06d}{process_index:02d}{caller_index:04d}{n:05d}"
        began = time.time()
        with lock:
            results.calls_started += 1
        try:
            sid = _happy_path(phone, number, rng, plan.think)
        except Exception as e:  # every failure is a figure of the benchmark
            with lock:
                results.errors.append(f"{type(e).__name__}: {str(e)[:200]}")
        else:
            with lock:
                results.completed.append(sid)
                results.intervals.append((began, time.time()))
        n += 1
        if deadline is None or time.time() >= deadline:
            break
    phone.transport.inner.close()


def _happy_path(phone: Phone, number: str, rng: random.Random, think: float) -> str:
    """One German call from ringing to the code; the call SID when it went right."""

    def pause() -> None:
        if think:
            time.sleep(rng.uniform(0.5 * think, 1.5 * think))

    call = phone.call(caller=number)
    for keys in ("1", rng.choice(POSTCODES), "1", str(rng.randint(1, 5)), "#"):
        pause()
        call.press(keys)
    # The hotline offers to say the code again: the caller has heard it and hangs up.
    # (The baseline's static <Gather> ends the call by itself.)
    call.hang_up()
    if call.exchanges[-1].status != 200:
        raise RuntimeError(f"HTTP {call.exchanges[-1].status} from the status callback")
    return call.call_sid
