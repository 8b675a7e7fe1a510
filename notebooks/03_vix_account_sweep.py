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
# # 03 — Where is the target reachable? VIX × account size
#
# A grid study moves the chain's smile with the VIX (sticky moneyness) and the VIX-table BP caps
# together, and solves every point. The full 400-point study is
# `scenarios/tom_king/sweep_vix_account.yaml` (`thetaplan sweep … --workers 2`); this notebook runs
# a small grid of the same plan.

# %%
import os
import tempfile
from pathlib import Path

import yaml

import optimizer
from optimizer import plots

FAST = os.environ.get("THETAPLAN_NB_FAST") == "1"
vix = [13, 17.44, 25] if FAST else [12, 15, 17.44, 20, 25, 30]
nlv = [50000, 100000] if FAST else [50000, 75000, 100000, 150000, 250000]
study = {
    "name": "phase 4 — VIX × account (notebook)",
    "base": str(Path("../scenarios/tom_king/phase4.yaml").resolve()),
    "overrides": {
        "target.success_probability": None,
        "account.phase": 4,
        "income.paths": 40 if FAST else 120,
        "risk.out_of_sample.n": 2000,
    },
    "grid": {"mode": "product", "axes": {"market.vix": vix, "account.net_liq": nlv}},
}
path = Path(tempfile.mkdtemp()) / "study_03.yaml"
path.write_text(yaml.safe_dump(study))
df = optimizer.study(path)
df[["market.vix", "account.net_liq", "status", "max_income", "achievement", "bp_used_pct"]]

# %%
plots.achievement_heatmap(df, "market.vix", "account.net_liq")
