"""Small helpers shared by the benchmarks."""

from __future__ import annotations


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(pids: list[int], children: bool = False) -> float:
    """User + system CPU time of these processes so far (with their reaped children's when
    ``children``: CUPS's backends run as children of cupsd)."""
    import os
    from pathlib import Path

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if children:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / ticks


def busy_share(printers: list) -> list[float]:
    """For each fake printer: the share of the time from its first dot to its last cut that
    its engine spent printing (the rest it waited for data)."""
    return [p.device.printing_seconds / (p.cut_times[-1] - p.device.first_printed_at) for p in printers]
