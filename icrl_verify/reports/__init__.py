"""Figures ``icrl-verify report`` draws (registered in ``icrl_verify.checks.registry.REPORTS``)."""
