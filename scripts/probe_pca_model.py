"""The probabilistic-model part of ``probe_sklearn.py``: ``noise_variance_``,
``get_covariance``, ``get_precision``, ``score_samples`` and ``score`` of a fitted
``mlpillars.PCA`` against an independent float64 / long-double Gaussian.

The reference is scikit-learn's fit of the centred data divided by a power of two
``scale`` (``probe_sklearn.reference``): its components V, variances and noise variance
in units of ``scale**2`` (finite and normal for data of 1e-300 or 1e300), from which, in
those units, the covariance ``C = V^T diag(max(lambda - sigma^2, 0)) V + sigma^2 I`` is
built in long double, its inverse by ``np.linalg.inv`` (LU, not the model's form, nor
scikit-learn's inversion lemma, which cancels where sigma^2 is small) refined by two Newton
steps ``P += P (I - C P)`` in long double, and each test sample's log-density
``-(r^T P r + log det C + d log 2 pi) / 2 - d log scale`` (``slogdet``: LU again) with
``r = (x - mu) / scale`` centred in long double. Values go back to data units in long
double (range to 1e4932), then to the dtype: inf or 0 where it does not hold them.

Slack (in units of scale**2). The fit's variances err by ``e = 20 (n + d) eps lambda_1``
(``slacks()["variance"]``); an axis kept mixes with a left-out one by about
``e / (lambda_k - lambda_{k+1})``, which moves C by that times ``lambda_1``, so
``||dC|| <= s_C = e (2 + 2 lambda_1 / gap_k)`` (gap_k = lambda_k - lambda_{k+1}; no such
term where k = d; mixing within the kept or within the left-out axes moves C by e at most).
The precision then errs by ``||P||^2 ||dC|| / (1 - ||P|| ||dC||) <= 2 s_C / m^2`` (while
``s_C <= m / 2``), m the smallest model variance (sigma^2, or lambda_d where k = d), i.e.
relatively by ``2 s_C / m``: the conditioning ``lambda_1 / m`` times ``(n + d) eps``. A
log-density errs by ``(|r|^2 2 s_C / m^2 + 2 d s_C / m) / 2`` (its quadratic form, and
its log-determinant, whose d terms ``log(1 + dm_i / m_i)`` are at most ``2 s_C / m``)
plus ``4 eps`` of its terms' magnitudes. Where ``s_C > m / 10`` (m at the level of
rounding: rank deficiency, constant or duplicate columns; the relative slack of the
precision would pass 0.2) or gap_k is within ``10 e`` (the kept span is not unique) the
model is not determined by the data: only its covariance (where the span is unique), the
singular-model errors and the namespaces are checked there.

Singular models: where the fit's own noise variance is 0 with k < d, or k = d and a kept
variance is 0, ``get_precision``, ``score_samples`` and ``score`` must raise ValueError
(all these backends are eager, Dask computes); they must not where the reference model is
determined and regular (a ValueError there: variances lost to the dtype's range).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

METHODS = ("get_precision", "score_samples", "score")
CHECKED: Counter[str] = Counter()
"""How many fits' models were checked, in all, with values determined, and singular."""


def test_samples(X: np.ndarray, dtype: str) -> np.ndarray:
    """Rows of X and combinations of them (off the data, reflected through the mean, 64
    times as far from it), rounded to dtype as X is (integers: rounded); the non-finite
    ones dropped."""
    n = X.shape[0]
    mean = np.mean(X.astype(np.longdouble), axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        rows = [X[0], X[-1], X[0] + (X[-1] - X[n // 2]) / 2, 2 * mean - X[0]]
        rows.append(mean + 64 * (X[-1] - mean))  # far out: float16 log-densities past -65504
        samples = np.asarray([np.asarray(row, dtype=np.float64) for row in rows])
        if dtype == "int64":
            samples = np.round(samples)
        samples = samples.astype(dtype).astype(np.float64)
    return samples[np.all(np.isfinite(samples), axis=1)]


def gaussian(scaled: dict[str, Any], samples: np.ndarray, determined: Any) -> dict[str, Any]:
    """The reference model in units of scale**2 (module docstring): C and the smallest
    model variance, and, where ``determined(smallest)``, P and the samples' scaled centred
    rows and log-densities (data units)."""
    V = scaled["components"].astype(np.longdouble)
    variances = scaled["variances"].astype(np.longdouble)
    noise = np.longdouble(scaled["noise"])
    k, d = V.shape
    covariance = (V.T * np.maximum(variances - noise, 0)) @ V + noise * np.eye(d)
    model_variances = np.maximum(variances, noise)
    smallest = float(noise if k < d else np.min(model_variances, initial=np.inf))
    result = {"covariance": covariance, "smallest": smallest, "precision": None}
    if not determined(smallest):
        return result
    precision = np.linalg.inv(covariance.astype(np.float64)).astype(np.longdouble)
    for _ in range(2):  # Newton: P (I - C P) is about cond(C) eps64 of P
        precision = precision + precision @ (np.eye(d) - covariance @ precision)
    precision = (precision + precision.T) / 2
    centred = (samples - scaled["mean"]) / scaled["scale"]  # long double
    quadratic = np.sum(centred * (centred @ precision), axis=1)
    _, log_determinant = np.linalg.slogdet(covariance.astype(np.float64))
    log_scale = np.log(np.longdouble(scaled["scale"]))
    constant = log_determinant + d * np.log(2 * np.pi) + 2 * d * log_scale
    result.update(precision=precision, centred=centred, quadratic=quadratic)
    result["log_densities"] = -(quadratic + constant) / 2
    result["magnitudes"] = quadratic + abs(log_determinant) + d * (2 + abs(2 * log_scale))
    return result


def model_slack(slack: dict[str, Any], k: int, d: int, n: int, eps: float) -> dict[str, Any]:
    """s_C and whether the kept span is unique (module docstring), in units of scale**2."""
    scaled = slack["scaled"]
    fit_error = 20 * (n + d) * eps * slack["top"]
    if k >= d:
        return {"fit": fit_error, "covariance": 2 * fit_error, "unique_span": True}
    gap = float(scaled[k - 1] - scaled[k])
    unique_span = gap > 10 * fit_error
    spread = 2 * fit_error * (1 + slack["top"] / gap) if unique_span else np.inf
    return {"fit": fit_error, "covariance": spread, "unique_span": unique_span}


def in_data_units(value: Any, scale: float, power: int) -> np.ndarray:
    """A long-double value in units of scale**power back in data units, as float64 (inf
    or 0 past float64's range: the dtype's cast comes after)."""
    with np.errstate(over="ignore", under="ignore"):
        return np.asarray(np.longdouble(scale) ** power * value, dtype=np.float64)


def compare_in_range(
    context: dict, got: Any, expected: Any, dtype: str, allowed: Any
) -> str | None:
    """``compare``, but that an infinity passes where the allowed interval reaches past the
    dtype's largest value (a variance of rounding, 20 (n + d) eps lambda_1, of float32
    data of 1e30 is itself past float32's range)."""
    actual = np.array(context["host"](got), dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64) + np.zeros_like(actual)
    largest = float(np.finfo(dtype).max)
    with np.errstate(invalid="ignore", over="ignore"):
        reach = np.abs(expected) + allowed >= largest
    actual = np.where(np.isinf(actual) & reach, expected, actual)
    return context["compare"](actual, expected, dtype, allowed)


def own_singular(model: Any, host: Any) -> bool:
    """Whether the fit's own values make the model singular (module docstring): a 0 in
    what the model is computed from, the spreads sqrt(lambda) and sigma
    (``noise_variance_`` may be 0 where sigma is not: float32 data of 1e-30; a float16
    singular value of 6e-8, a subnormal, gives a spread of 0)."""
    k, d = model.n_components_, model.n_features_in_
    _, spreads, noise = model._model_arrays("get_precision")
    if k < d:
        return not float(host(noise)) > 0
    return not float(np.min(host(spreads))) > 0


def probe_model(
    model: Any, data: Any, X: np.ndarray, dtype: str, scaled: dict, context: dict
) -> list[str]:
    """What is wrong with the model of one backend's fit ``model`` of ``data`` (X's values
    in dtype, the result dtype ``context["dtype"]``); ``scaled``: the reference's fit in
    units of scale**2; ``context``: ``compare``, ``host``, ``namespace_problems``, the
    fit's ``eps`` and ``slacks()``'s ``slack``."""
    host, out_dtype = context["host"], context["dtype"]
    n, d = X.shape
    k = model.n_components_
    scale = scaled["scale"]
    bound = model_slack(context["slack"], k, d, n, context["eps"])
    samples = test_samples(X, dtype)
    backend_samples = context["on_backend"](samples)
    reference = gaussian(
        scaled, samples, lambda m: bound["unique_span"] and m > 10 * bound["covariance"]
    )
    found: list[str] = []
    results: dict[str, Any] = {"noise_variance_": model.noise_variance_}
    expected_noise = in_data_units(np.longdouble(scaled["noise"]), scale, 2)
    noise_slack = 0.0 if k >= min(n, d) else bound["fit"] * scale * scale
    if (
        problem := compare_in_range(
            context, model.noise_variance_, expected_noise, out_dtype, noise_slack
        )
    ) is not None:
        found.append(f"noise_variance_ {problem}")
    try:
        results["get_covariance"] = model.get_covariance()
    except Exception as error:
        return [*found, f"get_covariance raised {type(error).__name__}: {str(error)[:200]}"]
    if bound["unique_span"]:
        expected = in_data_units(reference["covariance"], scale, 2)
        allowed = in_data_units(np.longdouble(bound["covariance"]), scale, 2)
        if (
            problem := compare_in_range(
                context, results["get_covariance"], expected, out_dtype, allowed
            )
        ) is not None:
            found.append(f"get_covariance {problem}")
    singular = own_singular(model, host)
    CHECKED["models"] += 1
    CHECKED["singular (ValueError checked)"] += singular
    CHECKED["determined (values compared)"] += reference["precision"] is not None and not singular
    smallest = reference["smallest"]
    determined = reference["precision"] is not None
    for method in METHODS:
        arguments = () if method == "get_precision" else (backend_samples,)
        try:
            results[method] = getattr(model, method)(*arguments)
        except ValueError as error:
            if not singular or determined:
                found.append(
                    f"{method} raised ValueError where the model is regular (smallest model "
                    f"variance {smallest:.3g} x scale^2, slack {bound['covariance']:.3g}): "
                    f"{str(error)[:160]}"
                )
            continue
        except Exception as error:
            found.append(f"{method} raised {type(error).__name__}: {str(error)[:200]}")
            continue
        if singular:
            found.append(f"{method} gave no ValueError on a singular model")
    found += context["namespace_problems"](
        {name: value for name, value in results.items() if name != "score"}, data, out_dtype
    )
    if "score" in results and not isinstance(results["score"], float):
        found.append(f"score is a {type(results['score']).__name__}, not a float")
    if not determined or singular:
        return found
    relative = 2 * bound["covariance"] / smallest  # of the precision (module docstring)
    if "get_precision" in results:
        expected = in_data_units(reference["precision"], scale, -2)
        allowed = in_data_units(np.longdouble(relative / smallest), scale, -2)
        if (
            problem := compare_in_range(
                context, results["get_precision"], expected, out_dtype, allowed
            )
        ) is not None:
            found.append(f"get_precision {problem}")
    squares = np.sum(reference["centred"].astype(np.float64) ** 2, axis=1)
    allowed = (squares * relative / smallest + d * relative) / 2
    allowed = allowed + 4 * context["eps"] * reference["magnitudes"].astype(np.float64)
    expected = reference["log_densities"].astype(np.float64)
    if "score_samples" in results:
        problem = compare_in_range(context, results["score_samples"], expected, out_dtype, allowed)
        found += [f"score_samples {problem}"] if problem else []
    if "score" in results:
        got = np.asarray(results["score"])
        problem = context["compare"](got, np.mean(expected), out_dtype, float(np.max(allowed)))
        found += [f"score {problem}"] if problem else []
    return found
