"""The step loop a kernel hands to :meth:`.base.Framework.run_loop` (gradient descent's)."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol


class StepLoop(Protocol):
    """What :meth:`Framework.run_loop` runs: a kernel's step, written in ``xp.*`` calls.

    It must be hashable by value (a frozen dataclass of options), so that a compiling
    framework can cache the compiled loop per kind of loop. ``count`` is the step's index
    from 0: a Python int in an eager loop, a 0-d integer array in a compiled one.
    """

    steps: int
    stops_early: bool
    xp: ModuleType
    rows_independent: bool
    """Axis 0 of every array in the state and the constants is the problem axis (length B,
    or 1 for data every problem shares), the problems never read each other's rows, and
    ``record`` gives one value per problem along its axis 0: a framework may then run the
    problems in groups (NumPy: groups whose data stay in cache)."""

    def step(self, count: Any, state: Any, constants: Any) -> Any:
        """The state after one more step."""
        ...

    def record(self, state: Any) -> Any:
        """What the history keeps of a state (one row)."""
        ...

    def finished(self, state: Any) -> Any:
        """A 0-d bool array: no further step would change anything."""
        ...
