"""CPU time from /proc: of a process and its descendants, of this process, of all CPUs.

Linux only. Figures are in ticks of SC_CLK_TCK (10 ms), so compare them over many requests.
"""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime in ticks) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its closing one.
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ppid, ticks


def child_pids(parent: int) -> list[int]:
    """PIDs of the live children of `parent` (a gunicorn master's workers)."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st is not None and st[0] == parent:
                out.append(int(entry.name))
    return out


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU time of `roots` and all their live descendants (a gunicorn master + workers).

    Each live process counts its own time plus that of its reaped children, so a worker
    that exits moves into its parent's total and is never counted twice.
    """
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st is not None:
                stats[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    todo = [p for p in roots if p in stats]
    total = 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total / CLK_TCK


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return total - idle, total


def self_cpu_seconds() -> float:
    """User + system CPU time of this process (the bench client)."""
    t = os.times()
    return t.user + t.system
