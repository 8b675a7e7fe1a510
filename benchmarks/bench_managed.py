"""Benchmark: the managed income model, CPU and wall seconds.

Plain script (not collected by pytest)::

    .venv/bin/python benchmarks/bench_managed.py [--paths 250] [--repeat 5] [--measure fhs]
        [--scenarios phase4 phase4_wide] [--skip-cases]

1. The income stage of scenarios (default ``scenarios/tom_king/phase4.yaml``, 89 candidates,
   and ``phase4_wide.yaml``, 1,004): :func:`optimizer.pipeline.prepare` without its cache,
   with the call it makes to :func:`optimizer.inputs.income_model.simulate_income` (paths, trade
   costs and :func:`models.measure.managed.simulate_managed`) timed on its own: CPU seconds
   (``time.process_time``) and wall seconds, best of ``--scenario-repeat`` (default 1), and
   the whole ``prepare`` beside it.

2. Cases, one candidate each, on one shared path set of the S&P 500 (filtered historical
   simulation from the shipped VIX and S&P 500 files at VIX 18, or ``--measure lognormal``),
   ``P`` paths x ``D = warm-up + 252`` trading days with the warm-up of
   :mod:`optimizer.inputs.income_model` (21 x ceil(longest life / 21) = 84 days for the 120-DTE
   LT112), 12 reported months:

   * ``zero_dte``: SPX-like 16-delta / 30-point iron condor entered 10:30, expiring 16:00
     (``ExpiryRule(date=...)``), 4.33 entries/month, 50% target, 2x stop, 15:00 time exit,
     11 intraday steps;
   * ``lt112``: 120-DTE 1-1-2 (long put 7% OTM, short put 50 points below, 2 naked puts 12%
     OTM), 4 entries/month, naked puts closed at 90% of their credit, 21-DTE exit;
   * ``strangle``: 90-DTE 16-delta short strangle, 1 entry/month, 50% target, 21-DTE exit,
     30-delta exit.

   For each: the best of ``--repeat`` CPU and wall times of
   :func:`models.measure.managed.simulate_managed`, the path-days it covers (``P x D``) per CPU
   second, the option-leg repricings it performed (counted in a separate, untimed run by
   wrapping the engine's pricing kernel: each leg is priced from its trade's entry to its
   close, no further), and the reference measured in the same run: two
   ``scipy.special.ndtr`` calls (the N(d1), N(d2) of a Black-Scholes price) over as many
   float64 values, the irreducible cost of that many repricings. ``x ndtr`` is the engine's
   CPU time over the reference's. A last row times the three candidates in one call.

Threads of numpy's BLAS/OpenMP pools are pinned to 1 before numpy is imported.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.special import ndtr  # noqa: E402

import models.measure.managed as managed  # noqa: E402
from models.market.chain import synthetic_surface  # noqa: E402
from models.market.history import load_index_ohlc, load_vix_history  # noqa: E402
from models.measure.managed import UnderlyingPaths, simulate_managed, trading_steps  # noqa: E402
from models.measure.physical import fhs_paths, filtered_history, lognormal_paths  # noqa: E402
from models.strategies import ExpiryRule, Management, generate_candidates  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "scenarios" / "data"
VIX_FILE = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
SPX_FILE = DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"
VALUATION = datetime(2026, 1, 30, 10, 30)
VIX0 = 18.0
VOL_RATIO = 0.861
MONTHS = 12
SEED = 5


def _one(template: str, surface, rule: ExpiryRule, grid: dict, underlying: str):
    (cand,) = generate_candidates(
        strategy=template if template != "iron_condor" else "zero_dte",
        template_name=template,
        legs=None,
        underlying=underlying,
        surface=surface,
        expiry_rule=rule,
        grid=grid,
    )
    return cand


def phase4_mix() -> list[tuple[str, object, Management, float, float]]:
    """(name, candidate, management, entries per month, multiplier) of the three cases."""
    spx = synthetic_surface(6000.0, VALUATION, 0.17, skew=-0.1, strike_increment=5.0)
    return [
        (
            "zero_dte",
            _one(
                "iron_condor",
                spx,
                ExpiryRule(date=VALUATION + timedelta(hours=5.5)),
                {"short_delta": [0.16], "wing_width": [30.0]},
                "SPX",
            ),
            Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00"),
            4.33,
            100.0,
        ),
        (
            "lt112",
            _one(
                "lt112",
                spx,
                ExpiryRule(dte=120),
                {"long_otm": [0.07], "spread_width": [50.0], "naked_otm": [0.12]},
                "SPX",
            ),
            Management(profit_target=0.9, exit_dte=21, target_legs=(2,)),
            4.0,
            100.0,
        ),
        (
            "strangle",
            _one(
                "short_strangle",
                spx,
                ExpiryRule(dte=90),
                {"put_delta": [0.16], "call_delta": [0.16]},
                "SPX",
            ),
            Management(profit_target=0.5, exit_dte=21, delta_exit=0.30),
            1.0,
            100.0,
        ),
    ]


def sp_paths(measure: str, n_paths: int, n_days: int) -> UnderlyingPaths:
    """The S&P 500 path set, converted as :mod:`optimizer.inputs.income_model` does."""
    if measure == "fhs" and VIX_FILE.exists() and SPX_FILE.exists():
        hist = filtered_history(load_vix_history(VIX_FILE), load_index_ohlc(SPX_FILE))
        p = fhs_paths(hist, vix0=VIX0, n_paths=n_paths, n_days=n_days, seed=SEED)
        scale = float(hist.session_scale)
    else:
        if measure == "fhs":
            print(f"history files not found under {DATA}: using the lognormal measure")
        p = lognormal_paths(
            vix0=VIX0,
            vol_ratio=VOL_RATIO,
            n_paths=n_paths,
            n_days=n_days,
            seed=SEED,
            session_fraction=1.0,
        )
        scale = 1.0
    vix = np.asarray(p.vix, dtype=float)
    return UnderlyingPaths(
        log_return=p.log_return,
        iv_shift=(vix - vix[:, :1]) / 100.0,
        session_return=p.session_return,
        daily_vol=vix / 100.0 / math.sqrt(252.0),
        session_scale=scale,
        description=p.measure,
    )


def _best(fn, repeat: int) -> tuple[float, float]:
    """Best CPU and best wall seconds of ``repeat`` calls of ``fn``."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall)


def count_repricings(run) -> int:
    """Option-leg repricings done by ``run()``: the engine's pricing kernel, wrapped (untimed)."""
    original = managed._bsm
    count = 0

    def counting(g, j, lk, strike, sign, carry_t, disc, x, *rest):
        nonlocal count
        count += int(np.broadcast(lk, x).size)
        return original(g, j, lk, strike, sign, carry_t, disc, x, *rest)

    managed._bsm = counting
    try:
        run()
    finally:
        managed._bsm = original
    return count


def ndtr_seconds(n_values: int, repeat: int, chunk: int = 1 << 20) -> float:
    """Best wall time of two ``ndtr`` calls over ``n_values`` float64 values (in chunks)."""
    x = np.random.default_rng(0).standard_normal(min(n_values, chunk))
    out = np.empty_like(x)
    full, rest = divmod(n_values, x.size)

    def run():
        for _ in range(full):
            ndtr(x, out=out)
            ndtr(-x, out=out)
        if rest:
            ndtr(x[:rest], out=out[:rest])
            ndtr(-x[:rest], out=out[:rest])

    run()  # warm-up
    return _best(run, repeat)[0]


def scenario_income(path: Path, repeat: int) -> dict[str, float]:
    """CPU and wall seconds of the income stage and of the whole ``prepare`` of a scenario."""
    import optimizer.pipeline as pipeline
    from optimizer.inputs.spec import load_scenario

    scenario = load_scenario(path)
    best: dict[str, float] = {}
    original = pipeline.simulate_income

    def timed(*args, **kwargs):
        c0, w0 = time.process_time(), time.perf_counter()
        out = original(*args, **kwargs)
        seen["income_cpu"] = time.process_time() - c0
        seen["income_wall"] = time.perf_counter() - w0
        seen["candidates"] = float(len(out.ids))
        return out

    pipeline.simulate_income = timed
    try:
        for _ in range(repeat):
            seen: dict[str, float] = {}
            c0, w0 = time.process_time(), time.perf_counter()
            pipeline.prepare(scenario, cache=False)
            seen["prepare_cpu"] = time.process_time() - c0
            seen["prepare_wall"] = time.perf_counter() - w0
            for key, value in seen.items():
                best[key] = min(best.get(key, math.inf), value)
    finally:
        pipeline.simulate_income = original
    return best


def main() -> None:
    """Parse arguments, time the three cases and the mix, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", choices=("fhs", "lognormal"), default="fhs")
    parser.add_argument(
        "--scenarios",
        nargs="*",
        default=["phase4", "phase4_wide"],
        help="scenarios/tom_king/<name>.yaml whose income stage is timed (none: skip)",
    )
    parser.add_argument("--scenario-repeat", type=int, default=1)
    parser.add_argument("--skip-cases", action="store_true", help="only the scenarios")
    args = parser.parse_args()

    print(f"single core (OMP/OPENBLAS/MKL threads = {os.environ['OMP_NUM_THREADS']})")
    if args.scenarios:
        header = (
            f"{'scenario':<14} {'cands':>6} {'income CPU s':>13} {'income wall s':>14} "
            f"{'prepare CPU s':>14} {'prepare wall s':>15}"
        )
        print(header)
        print("-" * len(header))
        for name in args.scenarios:
            t = scenario_income(
                REPO / "scenarios" / "tom_king" / f"{name}.yaml", args.scenario_repeat
            )
            print(
                f"{name:<14} {t['candidates']:>6.0f} {t['income_cpu']:>13.2f} "
                f"{t['income_wall']:>14.2f} {t['prepare_cpu']:>14.2f} {t['prepare_wall']:>15.2f}"
            )
        print()
    if args.skip_cases:
        return

    mix = phase4_mix()
    longest = max(trading_steps(c.t) for _, c, *_ in mix)
    warmup = 21 * math.ceil(longest / 21)
    n_days = warmup + 21 * MONTHS
    paths = {"SPX": sp_paths(args.measure, args.paths, n_days)}
    print(f"paths: {paths['SPX'].description[:100]}...")
    print(f"P = {args.paths} paths x D = {warmup} warm-up + {21 * MONTHS} = {n_days} days")
    print()
    header = (
        f"{'case':<10} {'legs':>4} {'steps':>8} {'CPU ms':>8} {'wall ms':>8} "
        f"{'path-days/s':>12} {'repricings':>11} {'M repr/s':>9} {'ndtr ms':>8} {'x ndtr':>7}"
    )
    print(header)
    print("-" * len(header))

    def runner(items):
        cands = [c for _, c, *_ in items]
        return lambda: simulate_managed(
            cands,
            paths=paths,
            multipliers=[m for *_, m in items],
            management=[mg for _, _, mg, _, _ in items],
            entries_per_month=[e for _, _, _, e, _ in items],
            seed=SEED,
            months=MONTHS,
            warmup_days=warmup,
            intraday_steps=11,
        )

    rows = [(name, [(name, c, mg, e, m)]) for name, c, mg, e, m in mix]
    rows.append(("all three", mix))
    for name, items in rows:
        run = runner(items)
        run()  # warm-up (0DTE bridge normals, imports)
        cpu, wall = _best(run, args.repeat)
        n_rep = count_repricings(run)
        ref = ndtr_seconds(n_rep, args.repeat)
        legs = sum(sum(1 for leg in c.legs if leg.is_option) for _, c, *_ in items)
        steps = "/".join(str(11 if c.t < 1 / 365 else trading_steps(c.t)) for _, c, *_ in items)
        path_days = args.paths * n_days * len(items)
        print(
            f"{name:<10} {legs:>4} {steps:>8} {cpu * 1e3:8.1f} {wall * 1e3:8.1f} "
            f"{path_days / cpu:12,.0f} {n_rep:11,d} {n_rep / cpu / 1e6:9.2f} {ref * 1e3:8.1f} "
            f"{cpu / ref:7.1f}"
        )
    print()
    print(
        "path-days/s: candidate path-days (P x D per candidate) per CPU second; repricings: "
        "option legs x grid points priced; x ndtr: CPU time / (2 ndtr over as many values)"
    )


if __name__ == "__main__":
    main()
