"""Calibration of the physical measure: S&P 500 tail probabilities, model against history.

Plain script (not collected by pytest)::

    .venv/bin/python benchmarks/calibration.py [--paths N] [--seed S] [--mean-block L]
        [--replay-paths P] [--replay-seed S] [--skip-tails]

Section 1 (:func:`return_tail_table`): for horizons of 1, 21 and 82 trading days, starting-VIX
buckets [0,15), [15,20), [20,30), 30+ and thresholds -5%, -10%, -20% (simple return), the
historical frequency over overlapping windows 1990-01-02 .. 2023-12-28 with a 95% Wilson interval
on ``n_eff = n / h`` windows, next to

* the filtered historical simulation (:func:`models.measure.physical.fhs_paths`, mean block 21 days),
  paths started at VIX levels resampled from the bucket's historical start days;
* the lognormal alternative (:func:`models.measure.physical.lognormal_paths`) at the same levels with
  the measured realized/implied ratio (:func:`models.income.measure_vol_ratio`, 0.861).

Section 2 (:func:`pnl_replay_table`): the expected P&L per trade of a short put (5% OTM, 30
days), an iron condor (short 5% OTM, wings 2.5% further, 30 days) and an LT112 (long put 7% OTM,
short put 50 points below, two naked puts 12% OTM, 120 days) at fixed moneyness, held to expiry,
and the LT112 under the TK rules (naked puts closed at 90% of their credit, all closed at 21 DTE):
the direct historical replay (every entry day 1990-2023, leg IVs = the shipped 2026-01-30 SPX
skew shifted by ``term_factor x`` the VIX change from 17.44; mean with a Newey-West 95% interval)
against the income model (:func:`models.measure.managed.simulate_managed` on FHS paths started at the
replay's VIX levels) and the lognormal, with win rates and mean losses
(:mod:`models.measure.replay`). Money per MES unit (x 5 USD x 6,939.03) is printed beside.

In-sample: the FHS residual pool is the same 1990-2023 history.

A thin wrapper of :mod:`models.measure.calibration` (the code of ``thetaplan calibrate``, which prints
the same numbers as rich tables and ``--json``, on any S&P 500 / VIX history): this script keeps
the README's wide text layout, money per MES unit and the lognormal's details.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from models.market.history import load_index_history, load_vix_history
from models.measure import replay
from models.measure.calibration import (
    DEFAULT_MEAN_BLOCK,
    DEFAULT_PATHS,
    DEFAULT_REPLAY_PATHS,
    DEFAULT_REPLAY_SEED,
    DEFAULT_SEED,
    SHIPPED_INDEX,
    SHIPPED_VIX,
    CalibrationModel,
    evaluation_window,
    fit_model,
    replay_table,
    tail_table,
)


def _inputs(model: CalibrationModel | None):
    close, vix = load_index_history(SHIPPED_INDEX), load_vix_history(SHIPPED_VIX)
    return (model or fit_model()), close, vix, evaluation_window(close, vix)


def return_tail_table(
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    mean_block: float = DEFAULT_MEAN_BLOCK,
    model: CalibrationModel | None = None,
) -> pd.DataFrame:
    """The calibration table (:func:`models.measure.calibration.tail_table` on the shipped data).

    Returns
    -------
    pd.DataFrame
        One row per (horizon, bucket, threshold): ``n, n_eff, count, freq, ci_low, ci_high, fhs,
        fhs_se, lognormal, lognormal_se, fhs_in_ci, lognormal_in_ci`` (probabilities as fractions).
    """
    model, close, vix, window = _inputs(model)
    return tail_table(model, close, vix, window, n_paths=n_paths, seed=seed, mean_block=mean_block)


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


def pnl_replay_table(
    n_paths: int = DEFAULT_REPLAY_PATHS,
    seed: int = DEFAULT_REPLAY_SEED,
    mean_block: float = DEFAULT_MEAN_BLOCK,
    model: CalibrationModel | None = None,
) -> pd.DataFrame:
    """Replay against the model (:func:`models.measure.calibration.replay_table` on the shipped data).

    Returns
    -------
    pd.DataFrame
        One row per structure (``short_put``, ``iron_condor``, ``lt112``, ``lt112_tk``); P&L in
        units of the entry spot (see :func:`models.measure.replay.pnl_replay_table` for the columns).
    """
    model, close, vix, window = _inputs(model)
    return replay_table(
        model, close, vix, window, n_paths=n_paths, seed=seed, mean_block=mean_block
    )


def _format_replay(table: pd.DataFrame) -> pd.DataFrame:
    bp = lambda x: f"{1e4 * x:.1f}"  # noqa: E731  (basis points of the entry spot)
    yes = {True: "yes", False: "NO"}
    return pd.DataFrame(
        {
            "n": table["n_days"],
            "entries": table["n_entries"],
            "credit": table["credit"].map(bp),
            "replay [95% CI]": [
                f"{bp(m)} [{bp(lo)}, {bp(hi)}]"
                for m, lo, hi in zip(
                    table["replay"], table["ci_low"], table["ci_high"], strict=True
                )
            ],
            "se NW/neff": [
                f"{bp(a)}/{bp(b)}"
                for a, b in zip(table["replay_se"], table["replay_se_neff"], strict=True)
            ],
            "FHS ± se": [
                f"{bp(m)} ± {bp(s)}" for m, s in zip(table["fhs"], table["fhs_se"], strict=True)
            ],
            "z": table["fhs_z"].round(2),
            "in": table["fhs_in_ci"].map(yes),
            "lognorm": table["lognormal"].map(bp),
            "z ": table["lognormal_z"].round(2),
            "in ": table["lognormal_in_ci"].map(yes),
            "win% hist/FHS/logn": [
                f"{100 * a:.1f}/{100 * b:.1f}/{100 * c:.1f}"
                for a, b, c in zip(
                    table["replay_win"], table["fhs_win"], table["lognormal_win"], strict=True
                )
            ],
            "loss hist [CI]/FHS/logn": [
                f"{bp(a)} [{bp(a - 1.96 * s)}, {bp(a + 1.96 * s)}]/{bp(b)}/{bp(c)}"
                for a, s, b, c in zip(
                    table["replay_loss"],
                    table["replay_loss_se"],
                    table["fhs_loss"],
                    table["lognormal_loss"],
                    strict=True,
                )
            ],
        },
        index=table.index,
    )


def _print_replay(table: pd.DataFrame, elapsed: float) -> None:
    print()
    print(
        "Section 2: expected P&L per trade at fixed moneyness, direct historical replay "
        f"{replay.REPLAY_START}..{replay.REPLAY_END} against the income model "
        "(basis points of the entry spot, per share per unit; no costs, zero rates)"
    )
    print(
        f"IVs: shipped SPX skew of 2026-01-30 + term_factor x (VIX - "
        f"{table.attrs['reference_vix']:g}) / 100; replay CI: Newey-West, lag = holding days; "
        f"model: {table.attrs['n_paths']:,} paths, one trade each, entered at day 0"
    )
    print(f"FHS: {table.attrs['measure']}")
    print(f"lognormal: vol = VIX x {table.attrs['vol_ratio']:.3f}, VIX constant, no drift")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(_format_replay(table).to_string())
    money = replay.MES_MULTIPLIER * replay.REFERENCE_SPOT
    print(f"money per MES unit at {replay.REFERENCE_SPOT:,.2f} (x {money:,.0f} USD):")
    for name, row in table.iterrows():
        print(
            f"  {name:12s} credit {money * row['credit']:8,.0f}  replay {money * row['replay']:7,.0f}"
            f" [{money * row['ci_low']:,.0f}, {money * row['ci_high']:,.0f}]  FHS "
            f"{money * row['fhs']:7,.0f}  lognormal {money * row['lognormal']:7,.0f}  mean loss "
            f"when losing {money * row['replay_loss']:8,.0f} "
            f"({row['replay_loss'] / row['credit']:+.2f} x mean credit)"
        )
    rows = [f"{n} {'in' if row['fhs_in_ci'] else 'OUT'}" for n, row in table.iterrows()]
    print(f"summary: FHS {', '.join(rows)}; {elapsed:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=DEFAULT_PATHS, help="paths per cell")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--mean-block", type=float, default=DEFAULT_MEAN_BLOCK)
    parser.add_argument("--replay-paths", type=int, default=DEFAULT_REPLAY_PATHS)
    parser.add_argument("--replay-seed", type=int, default=DEFAULT_REPLAY_SEED)
    parser.add_argument("--skip-tails", action="store_true", help="print section 2 only")
    args = parser.parse_args()

    model = fit_model()
    if not args.skip_tails:
        _tail_section(args, model)
    t0 = time.perf_counter()
    table = pnl_replay_table(args.replay_paths, args.replay_seed, args.mean_block, model)
    _print_replay(table, time.perf_counter() - t0)


def _tail_section(args: argparse.Namespace, model: CalibrationModel) -> None:
    t0 = time.perf_counter()
    table = return_tail_table(args.paths, args.seed, args.mean_block, model)
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
