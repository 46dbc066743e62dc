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


def _own_ticks(pid: int) -> int | None:
    """utime+stime of a live process, without its reaped children, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def database_cpu_ticks(postmaster: int, database: str) -> dict[int, int]:
    """Own ticks of a PostgreSQL postmaster and of its backends serving `database`.

    Not the postmaster's tree: on a shared server, the backends of other databases (other
    people's tests) would count, and so would every one of them that exits, its time
    moving into the postmaster's reaped-children total. A backend names its database in
    its command line ("postgres: USER DATABASE HOST(PORT) STATE"); the shared writers
    (walwriter, checkpointer) are left out.
    """
    ticks: dict[int, int] = {}
    own = _own_ticks(postmaster)
    if own is not None:
        ticks[postmaster] = own
    for pid in child_pids(postmaster):
        try:
            words = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        if len(words) >= 3 and words[0] == b"postgres:" and words[2] == database.encode():
            found = _own_ticks(pid)
            if found is not None:
                ticks[pid] = found
    return ticks


def ticks_delta_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds between two `database_cpu_ticks` readings (new backends from zero;
    one that exited in between is lost, which the bench's kept connections avoid)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / CLK_TCK


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
