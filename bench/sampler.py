"""CPU and memory of the processes taking part in a run, sampled with psutil."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

logger = logging.getLogger(__name__)

Resolver = Callable[[], list[int]]
"""The pids of a group of processes (resolved at every sample: backends come and go)."""


def listener_pid(port: int) -> int | None:
    """The process listening on a local TCP port (our broker or database), if any."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


def tree(pid: int | None) -> Resolver:
    """A process and all its descendants."""

    def resolve() -> list[int]:
        if pid is None:
            return []
        try:
            root = psutil.Process(pid)
            return [pid, *(child.pid for child in root.children(recursive=True))]
        except psutil.Error:
            return []

    return resolve


def fixed(pids: list[int]) -> Resolver:
    return lambda: list(pids)


@dataclass(frozen=True)
class CpuProfile:
    """Average CPU over a window, in % of one core (a saturated single thread shows 100)."""

    seconds: float
    cores: int
    system: float  # all processes; at most 100 * cores
    groups: dict[str, float]
    busiest: tuple[str, float]  # the single process using the most

    @property
    def other(self) -> float:
        """Processes outside the tracked groups (other work on the machine)."""
        return max(0.0, self.system - sum(self.groups.values()))


@dataclass(frozen=True)
class _Sample:
    at: float
    seconds: float
    busy: float  # machine CPU seconds in the interval
    cpu: dict[int, tuple[str, float]]  # pid -> (group, CPU seconds in the interval)


@dataclass
class _Memory:
    peak: dict[int, int] = field(default_factory=dict)  # pid -> peak RSS bytes
    total_peak: int = 0


def _busy_seconds() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class Sampler(threading.Thread):
    """Samples each group's CPU and RSS every `interval` seconds until `stop()`."""

    def __init__(self, groups: dict[str, Resolver], interval: float = 0.25) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self._groups = groups
        self._interval = interval
        self._halt = threading.Event()
        self._procs: dict[int, psutil.Process] = {}
        self._cpu_seen: dict[int, float] = {}
        self._lock = threading.Lock()
        self._samples: list[_Sample] = []
        self._memory: dict[str, _Memory] = {name: _Memory() for name in groups}
        self.labels: dict[int, str] = {}

    def run(self) -> None:
        last_at, last_busy = time.time(), _busy_seconds()
        self._sample()
        while not self._halt.wait(self._interval):
            cpu = self._sample()
            now, busy = time.time(), _busy_seconds()
            with self._lock:
                self._samples.append(_Sample(now, now - last_at, busy - last_busy, cpu))
            last_at, last_busy = now, busy

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def _process(self, pid: int) -> psutil.Process:
        proc = self._procs.get(pid)
        if proc is None:
            proc = self._procs[pid] = psutil.Process(pid)
        return proc

    def _sample(self) -> dict[int, tuple[str, float]]:
        cpu: dict[int, tuple[str, float]] = {}
        for group, resolve in self._groups.items():
            rss_total = 0
            memory = self._memory[group]
            for pid in resolve():
                try:
                    proc = self._process(pid)
                    with proc.oneshot():
                        times = proc.cpu_times()
                        rss = proc.memory_info().rss
                        if pid not in self.labels:
                            self.labels[pid] = f"{group} {proc.name()} pid {pid}"
                except psutil.Error:
                    continue
                used = times.user + times.system
                # First sighting is the baseline: its earlier CPU belongs to no window.
                cpu[pid] = (group, used - self._cpu_seen.get(pid, used))
                self._cpu_seen[pid] = used
                memory.peak[pid] = max(memory.peak.get(pid, 0), rss)
                rss_total += rss
            memory.total_peak = max(memory.total_peak, rss_total)
        return cpu

    def profile(self, start: float, end: float) -> CpuProfile:
        """Average CPU of each group and of the busiest process between two unix times."""
        with self._lock:
            window = [s for s in self._samples if start < s.at <= end + self._interval]
        seconds = sum(s.seconds for s in window) or 1e-9
        groups = dict.fromkeys(self._groups, 0.0)
        per_pid: dict[int, float] = {}
        for sample in window:
            for pid, (group, used) in sample.cpu.items():
                groups[group] += used
                per_pid[pid] = per_pid.get(pid, 0.0) + used
        busiest = max(per_pid.items(), key=lambda item: item[1], default=(0, 0.0))
        return CpuProfile(
            seconds=seconds,
            cores=psutil.cpu_count() or 1,
            system=100 * sum(s.busy for s in window) / seconds,
            groups={g: 100 * used / seconds for g, used in groups.items()},
            busiest=(self.labels.get(busiest[0], "none"), 100 * busiest[1] / seconds),
        )

    def peak_rss_mb(self, group: str) -> tuple[float, float]:
        """Peak RSS of the group's largest process and of the group as a whole, in MB."""
        memory = self._memory[group]
        return max(memory.peak.values(), default=0) / 2**20, memory.total_peak / 2**20
