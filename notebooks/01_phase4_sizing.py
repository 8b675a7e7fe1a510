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
# # 01 — Sizing the phase-4 plan: £75k account, £10k/month target
#
# The real SPX chain of 2026-01-30, the Tom King phase-4 caps, and thetaplan's one income model:
# managed trades on filtered-historical-simulation paths, months marked to market, net of costs.
# `THETAPLAN_NB_FAST=1` (CI) shrinks the simulation sizes; the numbers then move a little.

# %%
import os

from rich.console import Console

import optimizer
from optimizer.cli.commands.solve import render

FAST = os.environ.get("THETAPLAN_NB_FAST") == "1"
sets = ["income.paths=60", "risk.out_of_sample.n=3000"] if FAST else []
result = optimizer.solve(
    "../scenarios/tom_king/phase4.yaml", overrides=sets, min_nlv_search=not FAST
)

# %% [markdown]
# ## The book, the portfolio and the verdict
# `render` prints what `thetaplan solve` prints.

# %%
render(result, Console(width=100, force_jupyter=False))

# %% [markdown]
# ## Income gross and net: where the costs go

# %%
p = result.portfolio
print(
    f"gross {p['expected_monthly_income_gross']:,.0f}, costs {p['costs_per_month']['total']:,.0f}, "
    f"net {p['expected_monthly_income']:,.0f} {p['currency']} per month"
)
result.positions[
    [
        "strategy",
        "underlying",
        "contracts",
        "expected_monthly_income_gross_per_contract",
        "costs_per_month_per_contract",
        "expected_monthly_income_per_contract",
    ]
]

# %% [markdown]
# ## The monthly P&L distribution of the book (out of sample)

# %%
fig = result.plot_monthly_pnl()
fig
