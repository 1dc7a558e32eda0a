"""Was a case measured on a busy machine? The machine's load over each case, and the verdict.

The meter reads, when a case starts and when it ends:

- the machine's busy CPU time, all CPUs together (``psutil.cpu_times()``: user, nice, system,
  irq, softirq; idle, iowait and steal are not busy, and guest time is already inside user
  and nice on Linux);
- this process's own CPU time: every thread (``time.process_time()``, a nanosecond clock)
  plus its child processes, live (``psutil``) or finished (``os.times()``). The children are
  the run's own work: the workers of a Dask ``LocalCluster`` (``--scheduler local:N``), a
  compiler's worker pool;
- the wall clock (``time.perf_counter()``); at the end also the 1-minute load average.

The CPU time of the **other processes** is the machine's busy time less this process's own.
Divided by the wall time it is how many cores the other processes kept busy on average.

**The rule** (:func:`is_busy`): a case was measured on a busy machine (its row's
``disturbed`` is true) when the other processes used, on average over the case, more than
:func:`busy_limit` cores: ``max(BUSY_CORES, BUSY_SHARE * cpu_count)``, half a core on
machines of up to 5 CPUs, 10 % of the CPUs above. An idle machine's background (daemons, a
shell, the terminal) is a few hundredths of a core; one CPU-bound process is a whole core,
and on a 2-core machine it made torch's OpenMP threads 330 times slower (issue 11). Half a
core sits far from both. A larger machine carries more background, hence the share; one
busy process is still flagged on up to 9 CPUs.

**The window.** The kernel counts CPU time in ticks of 10 ms per CPU, so a 20 ms case read on
its own could be off by half a core. The average is therefore taken over the case or, when
the case was shorter, over the last :data:`WINDOW_SECONDS` up to its end, from the readings
the meter kept at the boundaries of the cases before it (the row says how long the window
was). A short case is judged by the load of the half second it ended in.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from functools import cache
from typing import Any

BUSY_CORES = 0.5
"""Other processes' average load (cores) above which a case is disturbed, on small machines."""
BUSY_SHARE = 0.1
"""... and the share of the machine's CPUs that takes over on machines of more than 5 CPUs."""
WINDOW_SECONDS = 0.5
"""The shortest span the other processes' load is averaged over (see the module's text)."""


def busy_limit(cpu_count: int) -> float:
    """Cores of other processes' average load above which a case is disturbed.

    Parameters
    ----------
    cpu_count : int
        Logical CPUs of the machine (what ``psutil.cpu_times()`` adds up).

    Returns
    -------
    float
        ``max(BUSY_CORES, BUSY_SHARE * cpu_count)``.
    """
    return max(BUSY_CORES, BUSY_SHARE * max(cpu_count, 1))


def is_busy(other_cores: float, cpu_count: int) -> bool:
    """The rule: whether other processes kept more than :func:`busy_limit` cores busy.

    Parameters
    ----------
    other_cores : float
        The other processes' CPU seconds per wall second, averaged over the case's window.
    cpu_count : int
        Logical CPUs of the machine.
    """
    return other_cores > busy_limit(cpu_count)


@dataclass(frozen=True)
class Reading:
    """The machine's counters at one moment.

    Attributes
    ----------
    wall : float
        ``time.perf_counter()``, seconds.
    busy : float
        CPU seconds all CPUs have spent busy since boot.
    own : float
        CPU seconds of this process (all threads) and its children.
    steal : float
        CPU seconds the hypervisor gave to other virtual machines (0 where not reported).
    """

    wall: float
    busy: float
    own: float
    steal: float = 0.0


def case_load(
    start: Reading, end: Reading, window_start: Reading, cpu_count: int, load_average: float | None
) -> dict[str, Any]:
    """The ``load`` record of a case row, from three readings.

    Parameters
    ----------
    start, end : Reading
        At the case's start and end.
    window_start : Reading
        Where the verdict's window starts: ``start``, or an earlier reading when the case was
        shorter than :data:`WINDOW_SECONDS`.
    cpu_count : int
        Logical CPUs of the machine.
    load_average : float or None
        The 1-minute load average at the end.

    Returns
    -------
    dict
        ``seconds`` (the case's wall time), ``own_cpu_seconds``, ``own_cores`` (own CPU time /
        wall time), ``other_cpu_seconds`` (over the case), ``window_seconds``, ``other_cores``
        and ``steal_cores`` (averages over the window: the verdict's figure), ``cpu_count``,
        ``limit_cores`` (:func:`busy_limit`) and ``load_average_1m``. CPU times are clamped
        at 0 (the counters' ticks can put own time a little above the machine's).
    """
    seconds = end.wall - start.wall
    own = max(end.own - start.own, 0.0)
    other = max((end.busy - start.busy) - own, 0.0)
    window = end.wall - window_start.wall
    window_own = max(end.own - window_start.own, 0.0)
    window_other = max((end.busy - window_start.busy) - window_own, 0.0)
    window_steal = max(end.steal - window_start.steal, 0.0)
    return {
        "seconds": seconds,
        "own_cpu_seconds": own,
        "own_cores": own / seconds if seconds > 0 else None,
        "other_cpu_seconds": other,
        "window_seconds": window,
        "other_cores": window_other / window if window > 0 else 0.0,
        "steal_cores": window_steal / window if window > 0 else 0.0,
        "cpu_count": cpu_count,
        "limit_cores": busy_limit(cpu_count),
        "load_average_1m": load_average,
    }


class LoadMeter:
    """Readings at the boundaries of this process's cases, and each case's load.

    Parameters
    ----------
    read : callable, optional
        Returns a :class:`Reading` (default :func:`read_machine`; tests pass their own).
    window_seconds : float
        :data:`WINDOW_SECONDS`.
    """

    def __init__(self, read=None, window_seconds: float = WINDOW_SECONDS) -> None:
        self._read = read or read_machine
        self.window_seconds = window_seconds
        self.history: deque[Reading] = deque([self._read()])

    def start(self) -> Reading:
        """Read the counters as a case starts."""
        return self._remember(self._read())

    def finish(self, start: Reading) -> dict[str, Any]:
        """Read the counters as the case ends; its ``load`` record and ``disturbed`` verdict.

        Returns
        -------
        dict
            ``{"load": case_load(...), "disturbed": bool}``, the fields of the case's row.
        """
        end = self._remember(self._read())
        window_start = min(start, self._reading_before(end.wall - self.window_seconds), key=_wall)
        count = cpu_count()
        load = case_load(start, end, window_start, count, load_average())
        return {"load": load, "disturbed": is_busy(load["other_cores"], count)}

    def _remember(self, reading: Reading) -> Reading:
        self.history.append(reading)
        # keep one reading at least a window old, and every later one
        while len(self.history) > 2 and self.history[1].wall <= reading.wall - self.window_seconds:
            self.history.popleft()
        return reading

    def _reading_before(self, moment: float) -> Reading:
        """The latest reading at or before ``moment`` (the oldest kept, if none is)."""
        earlier = [reading for reading in self.history if reading.wall <= moment]
        return earlier[-1] if earlier else self.history[0]


def _wall(reading: Reading) -> float:
    return reading.wall


@cache
def process_meter() -> LoadMeter:
    """This process's meter, made on first use (its first reading starts the history)."""
    return LoadMeter()


def read_machine() -> Reading:
    """The machine's busy time, this process's (and its children's) CPU time, and the wall
    clock, now."""
    import psutil

    times = psutil.cpu_times()._asdict()
    guest = times.get("guest", 0.0) + times.get("guest_nice", 0.0)  # inside user and nice
    steal = times.get("steal", 0.0)
    idle = times.get("idle", 0.0) + times.get("iowait", 0.0)
    busy = sum(times.values()) - guest - idle - steal
    own = time.process_time() + _children_seconds(psutil)
    return Reading(time.perf_counter(), busy, own, steal)


def _children_seconds(psutil: Any) -> float:
    """CPU seconds of this process's children: finished ones (waited for) and live ones."""
    finished = os.times()
    total = finished.children_user + finished.children_system
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            times = child.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def cpu_count() -> int:
    """Logical CPUs, as ``psutil.cpu_times()`` adds them up."""
    import psutil

    return psutil.cpu_count(logical=True) or os.cpu_count() or 1


def load_average() -> float | None:
    """The 1-minute load average (runnable and waiting tasks, this process's threads
    included), or None where the system has none."""
    try:
        import psutil

        return float(psutil.getloadavg()[0])
    except (AttributeError, OSError):
        return None
