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
# # 02 — Phase scaling: £35k→£3k … £75k→£10k, computed
#
# Seed 1's "Account Phase Scaling" table claims each phase reaches its target. Here each phase is
# solved under its own caps — the same code as `thetaplan phases scenarios/tom_king/phases.yaml`:
# max expected monthly income (net of costs), achievement, P(month ≥ target), minimum account.

# %%
import os

from optimizer import plots
from optimizer.studies.phases import phase_table, solve_cases
from optimizer.studies.study import load_study

FAST = os.environ.get("THETAPLAN_NB_FAST") == "1"
sets = (
    [
        "income.paths=40",
        "risk.out_of_sample.n=2000",
        "solve.diagnostics=light",
        "solve.min_nlv=false",
    ]
    if FAST
    else []
)
study = load_study("../scenarios/tom_king/phases.yaml", sets)
runs = solve_cases(study)
table = phase_table(runs)
table

# %%
plots.phase_bars(table, ccy="GBP")
