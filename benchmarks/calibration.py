"""Calibration of the physical measure: S&P 500 tail probabilities, model against history.

Plain script (not collected by pytest)::

    .venv/bin/python benchmarks/calibration.py [--paths N] [--seed S] [--mean-block L]

Section 1 (:func:`return_tail_table`): for horizons of 1, 21 and 82 trading days, starting-VIX
buckets [0,15), [15,20), [20,30), 30+ and thresholds -5%, -10%, -20% (simple return), the
historical frequency over overlapping windows 1990-01-02 .. 2023-12-28 with a 95% Wilson interval
on ``n_eff = n / h`` windows, next to

* the filtered historical simulation (:func:`models.physical.fhs_paths`, mean block 21 days),
  paths started at VIX levels resampled from the bucket's historical start days;
* the lognormal alternative (:func:`models.physical.lognormal_paths`) at the same levels with
  the measured realized/implied ratio (:func:`models.income.measure_vol_ratio`, 0.861).

In-sample: the FHS residual pool is the same 1990-2023 history.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from models.history import load_index_history, load_index_ohlc, load_vix_history
from models.income import measure_vol_ratio
from models.physical import filtered_history, tail_calibration

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "scenarios" / "data"
VIX_FILE = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
SPX_FILE = DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"


def return_tail_table(
    n_paths: int = 40_000, seed: int = 20_240_805, mean_block: float = 21.0
) -> pd.DataFrame:
    """The calibration table (:func:`models.physical.tail_calibration` on the shipped data).

    Returns
    -------
    pd.DataFrame
        One row per (horizon, bucket, threshold): ``n, n_eff, count, freq, ci_low, ci_high, fhs,
        fhs_se, lognormal, lognormal_se, fhs_in_ci, lognormal_in_ci`` (probabilities as fractions).
    """
    vix = load_vix_history(VIX_FILE)
    close = load_index_history(SPX_FILE)
    hist = filtered_history(vix, load_index_ohlc(SPX_FILE))
    ratio = measure_vol_ratio(vix, close).ratio
    table = tail_calibration(
        hist, close, vix, vol_ratio=ratio, n_paths=n_paths, seed=seed, mean_block=mean_block
    )
    table.attrs["measure"] = hist.describe(mean_block)
    table.attrs["vol_ratio"] = ratio
    return table


def _format(table: pd.DataFrame) -> pd.DataFrame:
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    return pd.DataFrame(
        {
            "h": table["horizon"],
            "VIX": table["bucket"],
            "thr%": (100 * table["threshold"]).round().astype(int),
            "n": table["n"],
            "n_eff": table["n_eff"].round(1),
            "hist% [95% CI]": [
                f"{pct(f)} [{pct(lo)}, {pct(hi)}]"
                for f, lo, hi in zip(table["freq"], table["ci_low"], table["ci_high"], strict=True)
            ],
            "FHS%": table["fhs"].map(pct),
            "lognorm%": table["lognormal"].map(pct),
            "FHS in": table["fhs_in_ci"].map({True: "yes", False: "NO"}),
            "lognorm in": table["lognormal_in_ci"].map({True: "yes", False: "NO"}),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=40_000, help="paths per (horizon, bucket)")
    parser.add_argument("--seed", type=int, default=20_240_805)
    parser.add_argument("--mean-block", type=float, default=21.0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    table = return_tail_table(args.paths, args.seed, args.mean_block)
    elapsed = time.perf_counter() - t0
    print("Section 1: S&P 500 tail probabilities by starting VIX (history 1990-01-02..2023-12-28)")
    print(f"FHS: {table.attrs['measure']}")
    print(f"lognormal: vol = VIX x {table.attrs['vol_ratio']:.3f}, VIX constant")
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(_format(table).to_string(index=False))
    cells = table[table["n"] > 0]
    fhs_out = cells[~cells["fhs_in_ci"]]
    logn_out = cells[~cells["lognormal_in_ci"]]
    contrast = cells[cells["fhs_in_ci"] & ~cells["lognormal_in_ci"]]
    print(
        f"summary: {len(cells)} cells; FHS inside the 95% CI in {len(cells) - len(fhs_out)}, "
        f"lognormal in {len(cells) - len(logn_out)}; lognormal outside where FHS inside: "
        f"{len(contrast)} ({', '.join(sorted(f'{h}d' for h in contrast['horizon'].unique()))}); "
        f"{args.paths:,} paths per cell, {elapsed:.1f} s"
    )
    for row in fhs_out.itertuples():
        print(
            f"  FHS outside: {row.horizon}d VIX {row.bucket} < {100 * row.threshold:.0f}%: "
            f"history {100 * row.freq:.2f}% [{100 * row.ci_low:.2f}, {100 * row.ci_high:.2f}] "
            f"({row.count} of {row.n}), FHS {100 * row.fhs:.2f}%"
        )


if __name__ == "__main__":
    main()
