# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 — Seed 2 (QuantAI): the capital table, audited
#
# Seed 2 claims $12,329/month net from $10,000 with five return streams, a $1,771 monthly cost
# base and a $102,208 break-even. This notebook puts the claim through three steps:
#
# 1. **As claimed** — the seed's own arithmetic (`small_capital_optimizer.py`), reproduced
#    exactly from the numbers in `scenarios/quantai/capital_scenarios.yaml`;
# 2. **Consistency** — do the stated per-trade figures (trades/day, average profit, stop,
#    take-profit, stake) agree with each other and with the seed's own 60% validator win rate?
# 3. **Monte Carlo** — daily equity paths of the stated trades under the seed's risk framework
#    (5% daily loss limit, 15% drawdown kill switch, itemised $1,770.98 monthly costs), and the
#    same streams with no forecasting edge.

# %%
import os

import numpy as np
import pandas as pd

from optimizer.audit.capital_scenarios import (
    claimed_table,
    consistency_checks,
    equity_fan_figure,
    load_audit,
    monthly_distribution_figure,
    run_audit,
)

FAST = os.environ.get("THETAPLAN_NB_FAST") == "1"
sets = (
    ["simulation.paths=200", "simulation.break_even_paths=100", "optimizer.paths=40"]
    if FAST
    else []
)
spec = load_audit("../scenarios/quantai/capital_scenarios.yaml", sets)

# %% [markdown]
# ## 1. As claimed
#
# `net = capital × Σ(allocation × monthly rate) − 1,771`; "annual" compounds that first month's
# ROI twelve times; P(success) is 75% when the net reaches $10k and 45% otherwise — a constant,
# not a probability computed from anything.

# %%
pd.DataFrame(
    [
        {
            "capital": r.capital,
            "gross": round(r.gross_monthly),
            "net": round(r.net_monthly),
            "ROI %": round(100 * r.monthly_roi, 1),
            "annual": round(r.annual),
            "P (hard-coded)": r.p_success,
        }
        for r in claimed_table(spec)
    ]
)

# %% [markdown]
# ## 2. Are the per-trade figures consistent?
#
# A trade that ends at its stop (−SL) or its take-profit (+TP) averages `avg` only with the win
# rate `p = (avg + SL)/(TP + SL)`. Scalping's 0.8% with a 0.5% stop and a 1.2% target needs
# 76.5%; momentum's 6% with a 2% stop and an 8–12% target needs 57–80%. The seed's own validator
# assumes 60%.

# %%
pd.DataFrame([vars(f) for f in consistency_checks(spec, 0.173)])[
    ["stream", "check", "severity", "value", "message"]
]

# %% [markdown]
# ## 3. Monte Carlo
#
# Taken at face value (implied win rates, the validator's 60% with a 1:1 payoff where no stop is
# stated) the per-trade figures compound to numbers beyond any market's capacity — far above even
# the claimed ones. With no edge (win rate `SL/(SL+TP)`, zero expected gross per trade) fees and
# costs make every level lose money and the kill switch stops every path.

# %%
res = run_audit(spec)


def table(rows):
    return pd.DataFrame(
        [
            {
                "capital": r.capital,
                "mean net m1": round(r.mean_net_monthly),
                "median net m1": round(r.median_net_monthly),
                "P(net ≥ 10k)": r.p_net_ge_target,
                "P(kill/ruin 12m)": r.p_kill_switch_12m,
                "max DD p50": r.drawdown_quantiles["p50"],
                "12m outcome p50": r.outcome_12m_quantiles["p50"],
            }
            for r in rows
        ]
    )


table(res.simulated)

# %%
table(res.simulated_no_edge)

# %% [markdown]
# ## Break-even, both ways

# %%
{k: v for k, v in res.break_even.items()}

# %% [markdown]
# ## Allocation LP
#
# Maximize the expected monthly return over the five streams under the 5× leverage cap, a 15%
# CVaR₉₅ of the month and a 15% CVaR₉₀ of the 12-month drawdown (which caps P(drawdown > 15%)
# at 10%). On the stated figures scalping dominates every other stream.

# %%
pd.DataFrame(
    [
        {
            "capital": o.capital,
            "objective": o.allocation.objective,
            "status": o.allocation.status,
            **dict(zip(o.allocation.labels, np.round(o.allocation.allocation, 3), strict=True)),
            "E[month]": o.allocation.expected_monthly_return,
            "E[log growth]": o.allocation.expected_log_growth,
        }
        for o in res.optimized
    ]
)

# %%
monthly_distribution_figure(res)

# %%
equity_fan_figure(res)

# %% [markdown]
# ## Assumptions

# %%
for a in res.assumptions:
    print("•", a)
