"""Pytest configuration: Hypothesis profiles (dev, icrl-ci, thorough) and the --max-examples option."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--max-examples", type=int, default=None, help="override max_examples of the active Hypothesis profile"
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("hypothesis_profile", default=None)
    if chosen is None:
        settings.load_profile("icrl-ci" if os.environ.get("CI") else "dev")
    budget = config.getoption("--max-examples")
    if budget is not None:
        settings.register_profile("icrl-override", settings(settings.default, max_examples=budget))
        settings.load_profile("icrl-override")
