"""Bad input gets a ValueError naming the argument, before any work: wrong or transposed shapes, complex,
boolean or object entries, non-finite numbers, γ that is not a real number in [0, 1), non-stochastic P,
n = 0 or d = 0, mismatched layer counts, sizes beyond the machine's memory."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from icrl_verify import _validate, algorithms, constructions, mrp, prompts
from icrl_verify.arith import BallBackend, Float64Backend, MpmathBackend, TorchBackend
from icrl_verify.attention import (
    linear_attention,
    running_average_operator,
    softmax_attention,
    standard_mask,
    td_lambda_mask,
)

rng = np.random.default_rng(0)
phi = rng.standard_normal((5, 2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": np.zeros((5, 2, 1))}, "features"),
        ({"next_features": np.zeros((4, 2))}, "next_features"),
        ({"rewards": np.zeros(6)}, "rewards"),
        ({"query": np.zeros(3)}, "query"),
        ({"rewards": np.array([0, 1, np.nan, 0, 0])}, "rewards: entries must be finite"),
        ({"features": np.full((5, 2), np.inf)}, "features: entries must be finite"),
        ({"gamma": 1.0}, "gamma"),
        ({"gamma": -0.1}, "gamma"),
        ({"gamma": float("nan")}, "gamma"),
        ({"features": np.zeros((0, 2)), "next_features": np.zeros((0, 2)), "rewards": np.zeros(0)}, "n >= 1"),
    ],
)
def test_td_prompt_rejects(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"features": phi, "next_features": phi, "rewards": np.zeros(5), "query": np.zeros(2)}
    args["gamma"] = 0.9
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        prompts.td_prompt(**args)


def test_batch_td_rejects_wrong_preconditioner_shape() -> None:
    with pytest.raises(ValueError, match=r"preconditioners\[1\]"):
        algorithms.batch_td(phi, phi, np.zeros(5), 0.5, [np.eye(2), np.eye(3)])


def test_td0_rejects_wrong_preconditioner_shape_and_d() -> None:
    with pytest.raises(ValueError, match=r"preconditioners\[0\]"):
        constructions.td0(2, [np.eye(3)], n=4)
    with pytest.raises(ValueError, match="d"):
        constructions.td0(0, [], n=4)


def test_layer_rejects_prompt_of_the_wrong_size() -> None:
    layer = constructions.td0(2, [np.eye(2)], n=4)[0]
    bk = Float64Backend()
    with pytest.raises(ValueError, match="columns"):
        linear_attention(bk, np.zeros((5, 7)), layer)
    with pytest.raises(ValueError, match="P, Q"):
        linear_attention(bk, np.zeros((7, 5)), layer)


def test_mask_arguments() -> None:
    with pytest.raises(ValueError, match="lam"):
        td_lambda_mask(3, 1.5)
    with pytest.raises(ValueError, match="n"):
        td_lambda_mask(0, 0.5)


@pytest.mark.parametrize(
    ("P", "match"),
    [
        (np.array([[0.5, 0.4], [0.5, 0.5]]), "rows must sum to 1"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), "non-negative"),
        (np.ones((2, 3)) / 3, "square"),
        (np.array([[np.nan, 1.0], [0.5, 0.5]]), "finite"),
    ],
)
def test_finite_mrp_rejects_non_stochastic_p(P: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mrp.FiniteMRP(P=P, r=np.zeros(2), gamma=0.5, features=np.eye(2), initial=np.ones(2) / 2)


def test_finite_mrp_other_arguments() -> None:
    good = {"P": np.eye(2)[::-1], "r": np.zeros(2), "gamma": 0.5, "features": np.eye(2), "initial": np.ones(2) / 2}
    bad_values = [("r", np.zeros(3)), ("gamma", 1.2), ("features", np.zeros((3, 2))), ("initial", np.ones(2))]
    for name, bad in bad_values:
        with pytest.raises(ValueError, match=name):
            mrp.FiniteMRP(**{**good, name: bad})


def test_reducible_chain_has_no_unique_stationary_distribution() -> None:
    task = mrp.FiniteMRP(P=np.eye(2), r=np.zeros(2), gamma=0.5, features=np.eye(2), initial=np.ones(2) / 2)
    with pytest.raises(ValueError, match="reducible"):
        _ = task.stationary


def test_generators_validate() -> None:
    with pytest.raises(ValueError, match="num_states"):
        mrp.boyan_chain(2, 2, 0.9, rng)
    with pytest.raises(ValueError, match="gamma"):
        mrp.loop_mrp(4, 2, 1.0, rng)
    with pytest.raises(ValueError, match="tabular"):
        mrp.random_mrp(4, 2, 0.5, rng, tabular=True)
    with pytest.raises(ValueError, match="threshold"):
        mrp.loop_mrp(4, 2, 0.5, rng, threshold=2.0)
    with pytest.raises(ValueError, match="length"):
        mrp.boyan_chain(4, 2, 0.5, rng).trajectory(-1, rng)


def test_backend_arguments() -> None:
    with pytest.raises(ValueError, match="prec"):
        BallBackend(10)
    with pytest.raises(ValueError, match="dps"):
        MpmathBackend(5)
    with pytest.raises(ValueError, match="dtype"):
        TorchBackend(dtype=np.float16)  # type: ignore[arg-type]


# --- dtypes, empty sizes, scalars, transposes, memory (issue 11, point 6) ------------------------

q2 = np.zeros(2)
r5 = np.zeros(5)
C2 = [np.eye(2)]


def _td(**kwargs: Any) -> Any:
    args: dict[str, Any] = {"features": phi, "next_features": phi, "rewards": r5, "query": q2, "gamma": 0.9}
    return prompts.td_prompt(**{**args, **kwargs})


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (phi + 1j, r"features: expected real numbers, got complex dtype complex128 \(the imaginary part would be"),
        (phi > 0, "features: expected real numbers, got boolean dtype"),
        (phi.astype(object), "features: object arrays must hold int or Fraction entries, found float"),
        (np.array([[True, 1]] * 5, dtype=object), "features: object arrays must hold int or Fraction .*, found bool"),
        (phi.astype(str), "features: expected real numbers, got strings"),
    ],
)
def test_features_of_the_wrong_kind_are_refused(bad: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _td(features=bad)


@pytest.mark.parametrize("name", ["next_features", "rewards", "query"])
def test_complex_entries_of_any_argument_are_refused(name: str) -> None:
    good = {"next_features": phi, "rewards": r5, "query": q2}[name]
    with pytest.raises(ValueError, match=f"{name}: expected real numbers, got complex"):
        _td(**{name: good + 0.5j})


def test_empty_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"features: expected at least one feature per state \(d >= 1\)"):
        _td(features=np.zeros((5, 0)), next_features=np.zeros((5, 0)), query=np.zeros(0))
    with pytest.raises(ValueError, match=r"features: the context must hold at least one transition \(n >= 1\)"):
        _td(features=np.zeros((0, 2)), next_features=np.zeros((0, 2)), rewards=np.zeros(0))
    with pytest.raises(ValueError, match="d >= 1"):
        algorithms.batch_td(np.zeros((5, 0)), np.zeros((5, 0)), r5, 0.5, [])
    with pytest.raises(ValueError, match="n >= 1"):
        prompts.cot_prompt(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), 0.5)
    with pytest.raises(ValueError, match="d >= 1"):
        prompts.kernel_td_prompt(np.zeros((6, 0)), r5)
    with pytest.raises(ValueError, match="n \\+ 1 >= 2 states"):
        prompts.kernel_td_prompt(np.zeros((1, 2)), np.zeros(0))


@pytest.mark.parametrize(
    ("gamma", "match"),
    [
        ("0.9", "gamma: expected a real number, got str '0.9'"),
        (np.array([0.9, 0.5]), "gamma: expected a real number, got ndarray"),
        (np.array(0.9), "gamma: expected a real number, got ndarray"),
        (True, "gamma: expected a real number, got bool True"),
        (0.5 + 0j, "gamma: expected a real number, got complex"),
        (float("nan"), "gamma: expected a finite number, got nan"),
        (float("inf"), "gamma: expected a finite number, got inf"),
    ],
)
def test_gamma_must_be_a_real_number(gamma: Any, match: str) -> None:
    calls = [
        lambda: _td(gamma=gamma),
        lambda: prompts.cot_prompt(phi, phi, r5, gamma),
        lambda: prompts.expected_feature_prompts(np.eye(2), np.zeros(2), np.eye(2), gamma),
        lambda: algorithms.batch_td(phi, phi, r5, gamma, C2),
        lambda: constructions.kernel_td(2, 0.5, gamma),
        lambda: mrp.boyan_chain(4, 2, gamma, rng),
        lambda: mrp.random_mrp(4, 2, gamma, rng),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("bad", ["0.5", True, float("nan"), float("inf"), np.array([0.5])])
def test_lambda_alpha_and_generator_scalars_must_be_real(bad: Any) -> None:
    with pytest.raises(ValueError, match="lam: expected a"):
        td_lambda_mask(3, bad)
    with pytest.raises(ValueError, match="lam: expected a"):
        constructions.td_lambda(2, C2, 5, bad)
    with pytest.raises(ValueError, match="lam: expected a"):
        algorithms.batch_td_lambda(phi, phi, r5, 0.5, bad, C2)
    with pytest.raises(ValueError, match="alpha: expected a"):
        constructions.kernel_td(2, bad, 0.5)
    with pytest.raises(ValueError, match="threshold: expected a"):
        mrp.loop_mrp(4, 2, 0.5, rng, threshold=bad)
    with pytest.raises(ValueError, match="concentration: expected a"):
        mrp.random_mrp(4, 2, 0.5, rng, concentration=bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_entries_are_refused_everywhere(bad: float) -> None:
    def poisoned(a: Any) -> Any:
        out = np.array(a, dtype=np.float64)
        out.flat[0] = bad
        return out

    calls = [
        ("features", lambda: _td(features=poisoned(phi))),
        ("next_features", lambda: _td(next_features=poisoned(phi))),
        ("rewards", lambda: _td(rewards=poisoned(r5))),
        ("query", lambda: _td(query=poisoned(q2))),
        ("features", lambda: algorithms.batch_td(poisoned(phi), phi, r5, 0.5, C2)),
        (r"preconditioners\[0\]", lambda: algorithms.batch_td(phi, phi, r5, 0.5, [poisoned(np.eye(2))])),
        (r"preconditioners\[0\]", lambda: constructions.td0(2, [poisoned(np.eye(2))], 5)),
        ("C", lambda: constructions.cot_td(2, poisoned(np.eye(2)))),
        ("features", lambda: prompts.kernel_td_prompt(poisoned(np.zeros((6, 2))), r5)),
        ("features", lambda: mrp.FiniteMRP(np.eye(2), np.zeros(2), 0.5, poisoned(np.eye(2)), np.ones(2) / 2)),
    ]
    for name, call in calls:
        with pytest.raises(ValueError, match=f"{name}: .*finite"):
            call()


def test_complex_preconditioners_and_features_of_an_mrp_are_refused() -> None:
    with pytest.raises(ValueError, match=r"preconditioners\[0\]: expected real numbers, got complex"):
        constructions.td0(2, [np.eye(2) + 1j], 5)
    with pytest.raises(ValueError, match=r"preconditioners\[0\]: expected real numbers, got complex"):
        algorithms.batch_td(phi, phi, r5, 0.5, [np.eye(2) + 1j])
    with pytest.raises(ValueError, match="C: expected real numbers, got complex"):
        constructions.cot_td(2, np.eye(2) * 1j)
    with pytest.raises(ValueError, match="features: expected real numbers, got complex"):
        mrp.FiniteMRP(np.eye(2), np.zeros(2), 0.5, np.eye(2) + 1j, np.ones(2) / 2)


def test_transposed_features_are_named_as_transposed() -> None:
    transposed = r"expected shape \(n, d\) = \(5, 2\), got \(2, 5\): transposed\?"
    with pytest.raises(ValueError, match="^features: " + transposed):
        _td(features=phi.T)
    with pytest.raises(ValueError, match="^next_features: " + transposed):
        _td(next_features=phi.T)
    with pytest.raises(ValueError, match="^features: " + transposed):
        algorithms.batch_td(phi.T, phi, r5, 0.5, C2)
    with pytest.raises(ValueError, match="^features: " + transposed):
        prompts.cot_prompt(phi.T, phi, r5, 0.5)
    with pytest.raises(ValueError, match=r"^features: expected shape \(n\+1, d\) = \(6, 2\), got \(2, 6\): transp"):
        prompts.kernel_td_prompt(np.zeros((2, 6)), r5)
    with pytest.raises(ValueError, match=r"^features: expected shape \(S, d\) = \(3, 2\), got \(2, 3\): transposed\?"):
        prompts.expected_feature_prompts(np.eye(3), np.zeros(3), np.zeros((2, 3)), 0.5)


def test_the_odd_argument_out_is_blamed_not_the_features() -> None:
    with pytest.raises(ValueError, match=r"^rewards: expected shape \(5,\), got \(2,\)"):
        _td(rewards=np.zeros(2))
    with pytest.raises(ValueError, match=r"^rewards: expected shape \(5,\), got \(2,\)"):
        algorithms.batch_td(phi, phi, np.zeros(2), 0.5, C2)
    with pytest.raises(ValueError, match=r"^next_features: expected shape \(n, d\) = \(5, 2\), got \(5, 3\)$"):
        _td(next_features=np.zeros((5, 3)))


def test_exact_fraction_inputs_stay_exact() -> None:
    F = np.array([[Fraction(1), Fraction(-2, 3)]] * 3, dtype=object)
    r = np.array([Fraction(1), 2, Fraction(1, 5)], dtype=object)
    for gamma in (Fraction(1, 2), 0, 0.5):
        Z = prompts.td_prompt(F, F, r, np.array([3, Fraction(1, 7)], dtype=object), gamma)
        assert Z.dtype == object and all(isinstance(v, (int, Fraction)) for v in Z.flat)
        assert Z[2, 0] == Fraction(gamma) * F[0, 0]
    layer = constructions.kernel_td(1, Fraction(1, 2), Fraction(1, 3))
    assert all(isinstance(v, (int, Fraction)) for v in layer.heads[1].V.flat)


def test_sizes_beyond_memory_are_refused_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    """T4 at n = 100,000 would need ~75 GiB per (n+1)×(n+1) float64 array; refuse it, naming n and the size."""
    monkeypatch.setattr(_validate, "physical_memory", lambda: 16 * 2**30)
    n = 100_000
    Z = prompts.kernel_td_prompt(np.zeros((n + 1, 2)), np.zeros(n))  # (d+3)×(n+1): small, fine
    layer = constructions.kernel_td(2, 0.5, 0.9)
    for bk in (Float64Backend(), TorchBackend()):
        with pytest.raises(ValueError, match=r"^Z: a softmax layer at n = 100000 needs 3 dense .* 224 GiB, more than"):
            softmax_attention(bk, bk.asmatrix(Z), layer)
    with pytest.raises(ValueError, match=r"^n: the TD\(λ\) mask at n = 100000 .* 74.5 GiB"):
        td_lambda_mask(n, 0.5)
    with pytest.raises(ValueError, match=r"^n: the TD\(λ\) mask at n = 100000"):
        constructions.td_lambda(2, C2, n, Fraction(1, 2))
    with pytest.raises(ValueError, match=r"^n: the running-average mask at n = 100000"):
        constructions.average_reward_td(2, C2, n)
    with pytest.raises(ValueError, match=r"^size: the running-average operator at n = 100000"):
        running_average_operator(n + 1)
    with pytest.raises(ValueError, match=r"^n: a dense mask at n = 100000"):
        standard_mask(n).dense()


def test_memory_guard_uses_this_machines_memory() -> None:
    """Without patching: a context no machine can hold (n = 10^7: 2.2 PiB for a softmax layer) is refused."""
    assert (_validate.physical_memory() or 0) > 0
    with pytest.raises(ValueError, match="n = 10000000 needs"):
        td_lambda_mask(10_000_000, 0.5)
    _validate.square_fits("n", "a small mask", 100)  # and a small one is fine
