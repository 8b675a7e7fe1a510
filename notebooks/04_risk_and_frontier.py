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
# # 04 — Risk and the efficient frontier
#
# What does each extra % of CVaR buy? Every point below is an exact max-income MILP with the
# 1-day CVaR₉₉ cap set to that value (the other phase-4 caps kept); the scenario's own book is
# marked. P(month ≥ target) is counted over the income model's simulated months.

# %%
import os

from optimizer import plots
from optimizer.inputs.spec import load_scenario
from optimizer.studies.frontier import frontier

FAST = os.environ.get("THETAPLAN_NB_FAST") == "1"
sets = ["target.success_probability=null"] + (["income.paths=40"] if FAST else [])
sc = load_scenario("../scenarios/tom_king/phase4.yaml", sets)
f = frontier(sc, points=5 if FAST else 12)
f.points.drop(columns=["book"])

# %%
plots.frontier(f.points, chosen=f.chosen)

# %% [markdown]
# ## The same against the buying-power cap

# %%
fb = frontier(sc, cap="bp", points=4 if FAST else 10)
fb.points.drop(columns=["book"])
