"""Benchmark: implied vol + all Greeks for the full SPX chain, vectorized vs a QuantLib loop.

Plain script (not collected by pytest)::

    /work/venv/bin/python benchmarks/bench_pricing.py [--chain PATH] [--repeat N]

Inputs: the Yahoo SPX chain of 2026-01-30 (17,107 contracts), spot 6939.03, valuation
2026-01-30 16:00, each expiry at 16:00 on its date (so ``t = days / 365`` exactly), mid prices,
flat ``r = 0.037`` and ``q = 0.013`` (continuous). The benchmark measures speed; the inputs need
only be realistic.

Timed, on identical inputs:

* ours: ``implied_vol`` on the whole chain, then ``bsm_greeks`` at the implied vols;
* QuantLib: per option ``VanillaOption.impliedVolatility`` (accuracy 1e-10), then ``NPV``,
  ``delta``, ``gamma``, ``vega``, ``thetaPerDay`` and ``rho`` at that vol with an
  ``AnalyticEuropeanEngine``. Option objects are built before the clock starts (favouring
  QuantLib).

Reported: both wall times, their ratio (target >= 50x), the largest implied-vol difference where
both converge, and the largest relative price / Greek difference at the same vol.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import QuantLib as ql

from models.market.pricing import bsm_greeks, bsm_price, implied_vol

CHAIN_NAME = "spx_yahoo_chain_2026-01-30.csv.gz"
REPO = Path(__file__).resolve().parents[1]
CANDIDATES = (
    REPO / "scenarios" / "data" / CHAIN_NAME,
    Path("/work/shared/data/option_chains/yahoo") / CHAIN_NAME,
)
SPOT, RATE, DIV_YIELD = 6939.03, 0.037, 0.013
VALUATION = pd.Timestamp("2026-01-30")


def load_chain(path: Path | None) -> pd.DataFrame:
    """Read the chain and add ``t`` (years), ``mid`` and ``is_call`` columns."""
    if path is None:
        path = next((p for p in CANDIDATES if p.exists()), None)
        if path is None:
            sys.exit(f"chain not found; looked in: {', '.join(map(str, CANDIDATES))}")
    df = pd.read_csv(path, usecols=["strike", "bid", "ask", "option_type", "expiration"])
    days = (pd.to_datetime(df["expiration"]) - VALUATION).dt.days.to_numpy()
    df["days"] = days
    df["t"] = days / 365.0
    df["mid"] = 0.5 * (df["bid"] + df["ask"])
    df["is_call"] = df["option_type"].str.lower().eq("call")
    print(f"chain: {path} ({len(df):,} contracts, {df['expiration'].nunique()} expiries)")
    return df


def run_ours(df: pd.DataFrame):
    k, t, mid = (df[c].to_numpy(float) for c in ("strike", "t", "mid"))
    call = df["is_call"].to_numpy()
    forward = SPOT * np.exp((RATE - DIV_YIELD) * t)
    iv = implied_vol(mid, forward, k, t, np.exp(-RATE * t), call)
    greeks = bsm_greeks(SPOT, k, t, RATE, DIV_YIELD, iv.iv, call)
    return iv, greeks


def build_quantlib(df: pd.DataFrame):
    today = ql.Date(30, ql.January, 2026)
    ql.Settings.instance().evaluationDate = today
    dc, cal = ql.Actual365Fixed(), ql.NullCalendar()
    vol = ql.SimpleQuote(0.2)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(SPOT)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, DIV_YIELD, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, RATE, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, cal, ql.QuoteHandle(vol), dc)),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    options = []
    for k, days, call in zip(df["strike"], df["days"], df["is_call"], strict=True):
        kind = ql.Option.Call if call else ql.Option.Put
        opt = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(k)), ql.EuropeanExercise(today + int(days))
        )
        opt.setPricingEngine(engine)
        options.append(opt)
    return options, process, vol


def run_quantlib(options, process, vol, mids):
    out = np.full((len(options), 7), np.nan)
    for i, (opt, mid) in enumerate(zip(options, mids, strict=True)):
        try:
            sigma = opt.impliedVolatility(float(mid), process, 1e-10, 200, 1e-7, 10.0)
        except RuntimeError:  # price outside bounds / no root: QuantLib raises
            continue
        vol.setValue(sigma)
        out[i] = (
            sigma,
            opt.NPV(),
            opt.delta(),
            opt.gamma(),
            opt.vega() / 100.0,
            opt.thetaPerDay(),
            opt.rho() / 100.0,
        )
    return out


def quantlib_at_vols(options, vol, sigmas):
    """QuantLib price and Greeks at given vols (not timed): the same-input comparison."""
    out = np.full((len(options), 6), np.nan)
    for i, (opt, sigma) in enumerate(zip(options, sigmas, strict=True)):
        if not np.isfinite(sigma):
            continue
        vol.setValue(float(sigma))
        out[i] = (
            opt.NPV(),
            opt.delta(),
            opt.gamma(),
            opt.vega() / 100.0,
            opt.thetaPerDay(),
            opt.rho() / 100.0,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", type=Path, default=None, help="chain CSV(.gz) path")
    parser.add_argument("--repeat", type=int, default=7, help="timing repeats for ours")
    args = parser.parse_args()

    df = load_chain(args.chain)
    mids = df["mid"].to_numpy(float)

    run_ours(df)  # warm-up
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        iv, greeks = run_ours(df)
        times.append(time.perf_counter() - start)
    ours = min(times)

    options, process, vol = build_quantlib(df)
    start = time.perf_counter()
    ql_out = run_quantlib(options, process, vol, mids)
    theirs = time.perf_counter() - start

    reasons = pd.Series(iv.reason.ravel()).replace("", "ok").value_counts()
    print("implied vol outcomes (ours): " + ", ".join(f"{k} {v:,}" for k, v in reasons.items()))
    pinned = np.isfinite(ql_out[:, 0]) & (ql_out[:, 0] <= 1e-7)
    print(
        f"QuantLib returned a vol for {np.isfinite(ql_out[:, 0]).sum():,} contracts "
        f"({pinned.sum():,} of them zero mids pinned at its minVol 1e-7)"
    )
    print(f"ours     (implied_vol + bsm_greeks, best of {args.repeat}): {ours * 1e3:9.2f} ms")
    print(f"QuantLib (per-option impliedVolatility + NPV + Greeks):  {theirs * 1e3:9.2f} ms")
    print(f"speed-up: {theirs / ours:,.0f}x (target >= 50x)")

    both = np.isfinite(iv.iv) & np.isfinite(ql_out[:, 0])
    iv_diff = np.abs(iv.iv[both] - ql_out[both, 0])
    print(
        f"implied vol |ours - QuantLib| on {both.sum():,} contracts: max {iv_diff.max():.2e}, "
        f"median {np.median(iv_diff):.2e}"
    )
    # Same inputs, same vol: our price/Greeks at QuantLib's vol vs QuantLib's own outputs.
    k, t = df["strike"].to_numpy(float), df["t"].to_numpy(float)
    call = df["is_call"].to_numpy()
    ok = np.isfinite(ql_out[:, 0])
    at_ql = bsm_greeks(SPOT, k[ok], t[ok], RATE, DIV_YIELD, ql_out[ok, 0], call[ok])
    rel = np.abs(at_ql.price - ql_out[ok, 1]) / np.maximum(np.abs(ql_out[ok, 1]), 1e-300)
    print(f"max relative price difference at QuantLib's vol: {rel.max():.2e}")
    price_at_ours = bsm_price(SPOT, k, t, RATE, DIV_YIELD, iv.iv, call)
    ql_same = quantlib_at_vols(options, vol, iv.iv)
    valid = np.isfinite(iv.iv)
    rel_ours = np.abs(price_at_ours[valid] - ql_same[valid, 0]) / np.abs(ql_same[valid, 0])
    print(f"max relative price difference at our vol:        {rel_ours.max():.2e}")
    for j, name in enumerate(("delta", "gamma", "vega", "theta", "rho"), start=1):
        mine = getattr(greeks, name)[valid]
        ref = ql_same[valid, j]
        scale = np.maximum(np.abs(ref), 1e-12 * max(np.abs(ref).max(), 1.0))
        print(f"  max relative {name:5s} difference: {np.max(np.abs(mine - ref) / scale):.2e}")
    repriced = np.abs(price_at_ours[valid] - mids[valid]) / mids[valid]
    print(f"max relative |price(iv) - mid| (round trip): {repriced.max():.2e}")
    print(f"timings: {math.fsum(times) / len(times) * 1e3:.2f} ms mean over {len(times)} runs")


if __name__ == "__main__":
    main()
