"""The checks of ``mlpillars``' options: each returns what is wrong, in one line naming the
option and what would be valid (or raises argparse's error), so that the command exits 2
without a traceback."""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path
from typing import Protocol

from .backends import FRAMEWORKS
from .examples import SMALLEST_SIZE


def kernels_problem(kernels: list[str] | None, suite_name: str | None) -> str | None:
    """What is wrong with ``--kernels`` (for the suite ``suite_name``, where given), or
    None."""
    from .bench.cases import SUITES
    from .bench.catalogue import CATALOGUE

    unknown = [name for name in kernels or () if name not in CATALOGUE]
    if unknown:
        named = ", ".join(_with_close_match(name, list(CATALOGUE)) for name in unknown)
        return f"unknown kernel(s) in --kernels: {named}; valid: {', '.join(CATALOGUE)}"
    if suite_name is None:
        return None
    suite = SUITES[suite_name]
    unmeasured = [name for name in kernels or () if not suite.points(CATALOGUE[name])]
    if not unmeasured:
        return None
    measured = [name for name, entry in CATALOGUE.items() if suite.points(entry)]
    return (
        f"the {suite_name} suite has no sizes for {', '.join(unmeasured)} (in --kernels); "
        f"it measures {', '.join(measured)}"
    )


def _with_close_match(name: str, valid: list[str]) -> str:
    """``name``, with the valid name closest to it where one is close (a typing slip)."""
    close = difflib.get_close_matches(name, valid, n=1)
    return f"{name} (did you mean {close[0]}?)" if close else name


def out_problem(out: Path | None) -> str | None:
    """What stops ``--out`` from being a results folder, or None (it is made here)."""
    if out is None:
        return None
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder; give a folder for the results"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--out {out}: cannot make the results folder ({exc.strerror or exc})"
    if not os.access(out, os.W_OK | os.X_OK):
        return f"--out {out}: the folder is not writable"
    return None


def processes_option(text: str) -> int:
    """``bench --processes``: a positive number of processes."""
    count = _integer(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least 1 process, got {count}")
    return count


def demo_size_option(text: str) -> int:
    """``demo --size``: an integer the examples can be solved at."""
    size = _integer(text)
    if size < SMALLEST_SIZE:
        raise argparse.ArgumentTypeError(
            f"{size} is too small: at least {SMALLEST_SIZE} (the regression examples fit 16 "
            "features and an intercept)"
        )
    return size


def _integer(text: str) -> int:
    """``text`` as an integer, else the option's error."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def option_names(text: str | None) -> list[str] | None:
    """The comma-separated names of ``--kernels`` or ``--backends``, each once, in order;
    None where the option is not given ([] where it names nothing)."""
    if text is None:
        return None
    return list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))


def devices_in_backends(text: str | None) -> str | None:
    """The backends of ``--backends`` given with a device (``torch:cuda``), or None: the
    suite chooses the devices."""
    given = [name for name in option_names(text) or () if name.partition(":")[0] in FRAMEWORKS]
    with_device = [name for name in given if ":" in name]
    if not with_device:
        return None
    names = ", ".join(dict.fromkeys(name.partition(":")[0] for name in with_device))
    return (
        f"--backends takes backend names without a device (the suite chooses the devices): "
        f"{', '.join(with_device)}; give {names}"
    )


def options_beside_again(arguments: argparse.Namespace, plan: SavedPlan) -> str | None:
    """What ``--suite``, ``--kernels`` or ``--backends`` given with ``--resume`` or
    ``--rerun-disturbed`` asks that differs from the ``plan`` saved in the run folder (which
    those run), or None: options equal to the plan's (names in any order) change nothing."""
    again = "--resume" if arguments.resume else "--rerun-disturbed"
    given = {
        "suite": arguments.suite,
        "kernels": option_names(arguments.kernels),
        "backends": option_names(arguments.backends),
    }
    saved = {"suite": plan.suite, "kernels": plan.kernels, "backends": plan.backends}
    differing = [name for name, value in given.items() if value is not None]
    differing = [name for name in differing if not _same(given[name], saved[name])]
    if not differing:
        return None
    said = "; ".join(
        f"--{name} {_shown(name, given[name])}, the plan's {_shown(name, saved[name])}"
        for name in differing
    )
    return (
        f"{again} runs the plan saved in the run folder, which differs in {said}: "
        f"give the plan's or drop {', '.join(f'--{name}' for name in differing)}"
    )


class SavedPlan(Protocol):
    """The fields of a run's saved plan (:class:`mlpillars.bench.plan.RunPlan`) that
    ``--suite``, ``--kernels`` and ``--backends`` ask for."""

    suite: str
    kernels: list[str] | None
    backends: list[str] | None


def _same(given: str | list[str], saved: str | list[str] | None) -> bool:
    if isinstance(given, str) or saved is None or isinstance(saved, str):
        return given == saved
    return set(given) == set(saved)


def _shown(name: str, value: str | list[str] | None) -> str:
    """``softmax,sigmoid``; for a plan without kernels or backends, what it runs."""
    if value is None:
        return (
            "(none: every available backend)" if name == "backends" else "(none: all the suite's)"
        )
    return value if isinstance(value, str) else ",".join(value)


def empty_option(arguments: argparse.Namespace) -> str | None:
    """The ``--kernels`` or ``--backends`` that is given but names nothing, or None."""
    for option in ("kernels", "backends"):
        text = getattr(arguments, option)
        if text is not None and not option_names(text):
            return (
                f"--{option} {text!r} names no {option[:-1]}: give comma-separated names, "
                f"or leave --{option} out for all of them"
            )
    return None
