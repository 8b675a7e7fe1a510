"""The phase-4 0DTE sleeve on the two variance bases (issue 16).

Plain script (not collected by pytest)::

    .venv/bin/python benchmarks/zero_dte_variance.py [--scenario F.yaml] [--paths N]

For every 0DTE candidate of the scenario (default phase 4), priced on the ``session`` basis
(implied variance with the overnight/weekend share removed, :mod:`models.market.variance_time`) and on
the ``close_to_close`` basis (the convention before issue 16), the income model's expected gross
and net P&L per trade, win rate and expected monthly income per contract — both on the same
simulated paths (same seed and path set). Then the issue-15 headline structure (9 XSP condors
short 0.20 delta, 3-point wings) through :func:`optimizer.verdict.zero_dte.variance_basis_report`: both
bases and the edge against the implied/realized session variance ratio.

Money: GBP per contract unit (USD = GBP / 0.7299 at the scenario's FX).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import prepare
from optimizer.verdict.zero_dte import variance_basis_report

PHASE4 = "scenarios/tom_king/phase4.yaml"


def sleeve_table(path: str, paths: int | None) -> pd.DataFrame:
    """Per 0DTE candidate and basis: credit, gross/net per trade, win rate, monthly income."""
    rows = []
    for basis in ("session", "close_to_close"):
        over = [f"strategies.zero_dte.expiry.variance_basis={basis}"]
        if paths:
            over.append(f"income.paths={paths}")
        prep = prepare(load_scenario(path, over), cache=False)
        cs, r = prep.candidates, prep.income.result
        at = {cid: j for j, cid in enumerate(prep.income.ids)}
        for i, cid in enumerate(cs.ids):
            c = cs.structures.get(cid)
            if c is None or c.strategy != "zero_dte":
                continue
            j = at[cid]
            rows.append(
                {
                    "basis": basis,
                    "underlying": c.underlying,
                    "short_delta": c.params["short_delta"],
                    "wing": c.params["wing_width"],
                    "strikes": c.strikes_label,
                    "credit": float(cs.table.iloc[i]["credit_per_contract"]),
                    "gross_per_trade": float(r.expected_trade_gross[j]),
                    "net_per_trade": float(r.expected_trade[j]),
                    "win_rate": float(r.win_rate[j]),
                    "gross_per_month": float(r.expected_monthly_gross[j]),
                    "net_per_month": float(r.expected_monthly[j]),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    """Print the sleeve table summary and the issue-15 structure's report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default=PHASE4)
    ap.add_argument("--paths", type=int, default=None)
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    df = sleeve_table(a.scenario, a.paths)
    pd.set_option("display.width", 200)
    summ = df.groupby(["underlying", "basis"])[
        ["credit", "gross_per_trade", "net_per_trade", "win_rate", "net_per_month"]
    ].agg(["mean", "max"])
    print("0DTE candidates by basis (GBP per contract):")
    print(summ.round(2).to_string())

    # the issue-15 headline structure: XSP, short delta 0.20, 3-point wings, 9 contracts
    sc = load_scenario(
        a.scenario,
        ["strategies.zero_dte.expiry.variance_basis=close_to_close"]
        + ([f"income.paths={a.paths}"] if a.paths else []),
    )
    prep = prepare(sc, cache=False)
    cs = prep.candidates
    counts = np.zeros(len(cs))
    for i, cid in enumerate(cs.ids):
        c = cs.structures.get(cid)
        if c is not None and c.strategy == "zero_dte" and c.underlying == "XSP":
            if c.params == {"short_delta": 0.2, "wing_width": 3.0}:
                counts[i] = 9
    rep = variance_basis_report(sc, prep.market, cs, counts)
    for pos in rep["positions"]:
        print(f"\n{pos['id']} x{pos['contracts']:g} (the issue-15 headline 0DTE position)")
        for basis, b in pos["bases"].items():
            print(
                f"  {basis:15s} {b['strikes']:28s} credit {b['credit_per_contract']:7.2f}  "
                f"gross/trade {b['expected_trade_gross']:7.2f}  net/trade "
                f"{b['expected_trade_net']:7.2f}  win {b['win_rate']:.1%}  "
                f"gross/month {b['expected_monthly_gross']:7.2f}  net/month "
                f"{b['expected_monthly_net']:7.2f}"
            )
        print(
            f"  implied/realized session variance today ({rep['basis']} basis of the run): "
            f"{pos['variance_ratio']:.3f}"
        )
        for t in pos["sensitivity"]:
            mark = "  <- today" if t["today"] else ""
            print(
                f"    ratio {t['ratio']:5.2f}: gross/trade {t['expected_trade_gross']:7.2f}  "
                f"net/trade {t['expected_trade_net']:7.2f}{mark}"
            )
        print(
            f"  break-even ratio: gross {pos['break_even_ratio_gross']}, "
            f"net {pos['break_even_ratio_net']}"
        )
    print(f"\nsleeve x counts: {rep['sleeve']}")
    print(
        f"\n{time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} CPU-s "
        "(2-core machine)"
    )


if __name__ == "__main__":
    main()
