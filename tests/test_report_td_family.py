"""The TD-family report: its numbers are consistent with the certificates and it writes PNG, PDF and CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from icrl_verify import catalogue
from icrl_verify.reports.td_family import (
    BALL,
    FLOAT_BOUND,
    FLOAT_COMPOSED,
    FLOAT_STEP,
    MPMATH,
    TORCH_COMPOSED,
    report_td_family,
    td_family_errors,
)

SMALL = {"trials": 4, "n": 6, "depth": 5, "precise_n": 4}


def test_curves_cover_every_algorithm_and_backend() -> None:
    curves = td_family_errors(**SMALL)
    assert [c.key for c in curves] == ["T1", "T1a", "T1b", "T1c"]
    for c in curves:
        assert set(c.series) == {FLOAT_COMPOSED, TORCH_COMPOSED, FLOAT_STEP, FLOAT_BOUND, BALL, MPMATH}
        assert all(len(v) == SMALL["depth"] + 1 for v in c.series.values())
        assert c.exact_equal == (True,) * (SMALL["depth"] + 1)
        assert np.all(c.series[FLOAT_STEP] <= c.series[FLOAT_BOUND])  # means of certified per-task passes
        assert np.all(c.series[BALL][1:] < 1e-50) and np.all(c.series[MPMATH] < 1e-20)


def test_report_writes_png_pdf_and_csv(tmp_path: Path) -> None:
    paths = report_td_family(tmp_path, **SMALL)
    assert sorted(p.suffix for p in paths) == [".csv", ".pdf", ".png"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    rows = paths[2].read_text().splitlines()
    assert rows[0] == "theorem,series,layer,value" and len(rows) == 1 + 4 * 7 * (SMALL["depth"] + 1)
    assert catalogue.load(catalogue.reports()["td_family"].path) is report_td_family
