"""The replay's IV rule against real SPX/SPY chains: rule credit / real credit per structure and date.

Plain script (not collected by pytest)::

    .venv/bin/python benchmarks/smile_rule.py

Prints, for every shipped real chain (``models.market.smile_rule.SHIPPED_CHAINS``) and the reference
chain itself: the session's VIX close, the listed expiry used (DTE), the real credit (mid-price
IVs) and the credit under the replay's rule (the 2026-01-30 smile shifted by
``term_factor(t) (VIX - 17.44) / 100``), in index points per share, and their ratio. Then the
candidate VIX-shaped rules: the fitted :class:`~models.market.smile_rule.ShapeRule` judged by
leave-one-date-out, and the unfitted :class:`~models.market.smile_rule.ScaledSmileRule` (p = 1), each
scored by the mean ``|ln(credit ratio)|`` over the non-reference chains.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from models.market.history import load_vix_history
from models.market.smile_rule import (
    DATA_DIR,
    SHIPPED_CHAINS,
    VIX_FILE,
    ScaledSmileRule,
    ShapeRule,
    comparison_table,
    fit_shape_rule,
    leave_one_date_out,
    load_source,
    reference_surface,
)


def _mal(x: pd.Series) -> float:
    r = x.to_numpy(float)
    r = r[np.isfinite(r) & (r > 0)]
    return float(np.mean(np.abs(np.log(r))))


def main() -> None:
    """Print the comparison table and the out-of-sample test of the candidate rules."""
    t0 = time.perf_counter()
    rules = {"rule": ShapeRule(), "scaled": ScaledSmileRule(1.0)}
    tab = comparison_table(rules=rules)
    fitted = fit_shape_rule(tab)
    tab = comparison_table(rules=rules | {"fit_in_sample": fitted})
    show = tab[["label", "vix", "structure", "dte", "credit_real", "credit_rule", "ratio_rule"]]
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print("Rule (2026-01-30 smile + term_factor x (VIX - 17.44)) vs real mid-price IVs")
        print("credits: index points per share (SPY: dollars per share)\n")
        print(show.to_string(index=False, float_format=lambda v: f"{v:8.3f}"))
        print("\nratio rule / real by structure and date:")
        piv = tab.pivot_table(index=["label", "vix"], columns="structure", values="ratio_rule")
        print(piv.to_string(float_format=lambda v: f"{v:6.3f}"))
    other = tab[~tab["label"].str.contains("reference")]
    print("\nmean |ln ratio| over the non-reference chains (all structures):")
    for name in ("rule", "scaled", "fit_in_sample"):
        print(f"  {name:14s} {_mal(other[f'ratio_{name}']):.4f}")
    print(f"  (in-sample ShapeRule b0={fitted.b0:.3f} b1={fitted.b1:.2f} b2={fitted.b2:.1f})")
    for name in ("short_put", "iron_condor", "lt112"):
        r = other.loc[other["structure"] == name, "ratio_rule"]
        print(f"  current rule, {name:12s} ratio range {r.min():.3f} .. {r.max():.3f}")

    vix = load_vix_history(DATA_DIR / VIX_FILE.name)
    ref = reference_surface()
    chains = {
        s.label: (load_source(s), float(vix.loc[pd.Timestamp(s.date)])) for s in SHIPPED_CHAINS
    }
    base = tab[["label", "vix", "structure", "dte", "iv_real", "iv_rule", "ratio_rule"]]
    for level in (True, False):
        loo = leave_one_date_out(base, ref, chains, level=level)
        what = "b0, b1, b2" if level else "b1, b2 (b0 = 0)"
        print(f"\nleave-one-date-out, ShapeRule fitted on the other dates ({what}):")
        print(loo.to_string(index=False, float_format=lambda v: f"{v:8.3f}"))
        cur, fit = loo["mal_current"].mean(), loo["mal_fitted"].mean()
        print(
            f"  mean over dates: current {cur:.4f}  fitted {fit:.4f}  ({(fit / cur - 1) * 100:+.1f}%)"
        )
    print(f"\n{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
