"""``mlpillars.backends.branch``: one branch run eagerly, ``lax.cond`` under ``jax.jit``,
both branches and a select where values cannot be read."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pytest

from mlpillars.backends import FRAMEWORKS, branch


class Pair(NamedTuple):
    value: Any
    missing: Any


def branches(calls: list[str]) -> tuple[Any, Any]:
    def doubled(x: Any) -> Pair:
        calls.append("true")
        return Pair(2 * x, None)

    def negated(x: Any) -> Pair:
        calls.append("false")
        return Pair(-x, None)

    return doubled, negated


@pytest.mark.parametrize("holds", [True, False])
def test_eager_branch_runs_only_the_chosen_function(holds):
    calls: list[str] = []
    result = branch(np.asarray(holds), *branches(calls), (np.arange(3.0),))
    np.testing.assert_array_equal(result.value, np.arange(3.0) * (2 if holds else -1))
    assert result.missing is None
    assert calls == ["true" if holds else "false"]


@pytest.mark.parametrize("holds", [True, False])
def test_unreadable_predicate_runs_both_and_selects(monkeypatch, holds):
    monkeypatch.setattr(type(FRAMEWORKS["numpy"]), "is_traced", lambda self, array: True)
    calls: list[str] = []
    result = branch(np.asarray(holds), *branches(calls), (np.arange(3.0),))
    assert isinstance(result, Pair) and result.missing is None
    np.testing.assert_array_equal(result.value, np.arange(3.0) * (2 if holds else -1))
    assert sorted(calls) == ["false", "true"]


@pytest.mark.parametrize("holds", [True, False])
def test_a_gpu_predicate_is_read_and_runs_one_branch(holds):
    # a GPU's values cost a sync to read, but an eager branch's results may differ in
    # shape (a history cut where its loop stopped): read once (device1 plays a GPU)
    strict = pytest.importorskip("array_api_strict")
    device = strict.Device("device1")
    calls: list[str] = []
    result = branch(
        strict.asarray(holds, device=device), *branches(calls), (strict.ones(2, device=device),)
    )
    assert not FRAMEWORKS["array_api_strict"].values_known(result.value)
    assert calls == ["true" if holds else "false"]


def test_jax_branches_inside_the_program_under_jit_and_vmap():
    jax = pytest.importorskip("jax")
    calls: list[str] = []
    doubled, negated = branches(calls)

    def choose(flag: Any, x: Any) -> Any:
        return branch(flag, doubled, negated, (x,)).value

    x = jax.numpy.arange(3.0)
    assert "cond" in str(jax.make_jaxpr(choose)(True, x))
    jitted = jax.jit(choose)
    np.testing.assert_array_equal(jitted(True, x), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(jitted(False, x), [0.0, -1.0, -2.0])
    flags = jax.numpy.asarray([True, False])
    batched = jax.vmap(choose)(flags, jax.numpy.stack([x, x]))
    np.testing.assert_array_equal(batched, [[0.0, 2.0, 4.0], [0.0, -1.0, -2.0]])
