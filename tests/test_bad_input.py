"""Bad input gets a ValueError naming the argument: wrong shapes, non-finite numbers, γ out of range,
non-stochastic P, n = 0, mismatched layer counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from icrl_verify import algorithms, constructions, mrp, prompts
from icrl_verify.arith import BallBackend, Float64Backend, MpmathBackend, TorchBackend
from icrl_verify.attention import linear_attention, td_lambda_mask

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
