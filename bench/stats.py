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


def rush(printers: list, per_printer: int, clients: int, submit) -> None:
    """``clients`` threads post ``per_printer`` jobs for each printer, as fast as they can
    (``submit(client, n)`` sends job n, for printer n % len(printers)); returns once every
    printer has cut that many receipts."""
    import threading

    from tests.box import wait_for

    def run(index: int) -> None:
        for n in range(index, per_printer * len(printers), clients):
            submit(index, n)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: all(len(p.cut_times) >= per_printer for p in printers), 60 + per_printer * 2, "the rush")
