"""Pytest configuration: Hypothesis profiles (dev, icrl-ci, thorough), --max-examples, the cuda marker, the header."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from icrl_verify.arith.torch_backend import cuda_available

settings.register_profile("dev", max_examples=15, deadline=None)
# Hypothesis registers and loads its own "ci" profile when CI is set; ours has a distinct name and is
# loaded explicitly below, so the budgets are ours: derandomised, no deadline, no example database.
settings.register_profile(
    "icrl-ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
PROFILE = pytest.StashKey[str]()
"""The name of the Hypothesis profile this session loaded (shown in the report header)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--max-examples", type=int, default=None, help="override max_examples of the active Hypothesis profile"
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("hypothesis_profile", default=None)
    if chosen is None:
        chosen = "icrl-ci" if os.environ.get("CI") else "dev"
        settings.load_profile(chosen)
    budget = config.getoption("--max-examples")
    if budget is not None:
        settings.register_profile("icrl-override", settings(settings.default, max_examples=budget))
        settings.load_profile("icrl-override")
        chosen = f"{chosen}, --max-examples {budget}"
    config.stash[PROFILE] = chosen


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The one reading of the ``cuda`` marker: a skip with its reason when this machine has no CUDA device."""
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """What is under test: torch and its CUDA device, python-flint, mpmath, the Hypothesis profile."""
    import flint
    import mpmath
    import torch

    device = torch.cuda.get_device_name(0) if cuda_available() else "no CUDA device"
    return [
        f"torch {torch.__version__} ({device}), python-flint {flint.__version__}, mpmath {mpmath.__version__}",
        f"hypothesis profile: {config.stash.get(PROFILE, '?')} (max_examples={settings().max_examples})",
    ]
