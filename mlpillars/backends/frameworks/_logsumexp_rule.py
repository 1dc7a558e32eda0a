"""When a slice of a logsumexp needs its ``log1p`` form: one rule for every framework's own.

``m + log(s)``, ``s = sum exp(x - m)``, takes ``log`` of a rounded sum: an error of about
eps, absolute. Where ``s = 1 + r`` is close to 1 that is every digit of the rest ``r``,
which ``m + log1p(r)`` (one maximum's 1 left out of the sum) keeps. A slice needs that
form where its sum is below :data:`CLOSE_TO_ONE` and its result is below
:data:`SMALL_RESULT` in magnitude; elsewhere the plain formula errs by at most 2 eps of
the result. A compiled program that computes both forms slice by slice may test the sum
alone.
"""

from __future__ import annotations

CLOSE_TO_ONE = 1.5
"""A sum below this (its rest ``r < 0.5``) is close to 1."""

SMALL_RESULT = 1.0
"""A result below this in magnitude is where the plain formula's absolute error shows."""
