"""What a benchmark run measured."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.sampler import CpuProfile


@dataclass(frozen=True)
class Options:
    """How to run the benchmark."""

    messages: int = 200_000
    naive_messages: int = 50_000
    workers: tuple[int, ...] = (1, 2)
    latency_rate: float = 5_000
    latency_seconds: float = 10
    devices: int = 100
    publishers: int = 2
    max_inflight: int = 1000
    drain_timeout_s: float = 120


@dataclass(frozen=True)
class VariantResult:
    """One consumer under one stream: end-to-end rate, delivery, resources."""

    key: str  # raw, naive, yiju-1, yiju-2, latency
    label: str
    messages: int  # acknowledged by the broker
    started_at: float  # first publish (unix time)
    acked_at: float  # last PUBACK
    finished_at: float  # last message decoded (raw) or last row's ingested_at
    stored: int  # messages decoded (raw) or rows in the database
    lost: int
    duplicates: int
    cpu: CpuProfile
    peak_rss_mb: float  # the consumer's largest process
    tree_rss_mb: float  # the consumer's processes together
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def msgs_per_s(self) -> float:
        return self.messages / max(self.finished_at - self.started_at, 1e-9)

    @property
    def publish_per_s(self) -> float:
        return self.messages / max(self.acked_at - self.started_at, 1e-9)

    @property
    def drain_s(self) -> float:
        """How long after the last PUBACK the consumer finished: ~0 when it kept pace."""
        return self.finished_at - self.acked_at


@dataclass(frozen=True)
class BenchResult:
    """Every variant of one run."""

    options: Options
    variants: dict[str, VariantResult]
    broker: dict[str, dict[str, int]] = field(default_factory=dict)  # $SYS before and after

    @property
    def yiju(self) -> dict[int, VariantResult]:
        """Yiju throughput runs by worker count."""
        return {int(k.split("-")[1]): v for k, v in self.variants.items() if k.startswith("yiju-")}

    @property
    def best_workers(self) -> int:
        return max(self.yiju.items(), key=lambda item: item[1].msgs_per_s)[0]
