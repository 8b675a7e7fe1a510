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
# # 06 — Tracking a month: ledger, alerts, re-plan, rebalancing
#
# A plan is sized at the start of the month; the month then happens. This notebook follows one
# month of the phase-4 plan day by day:
#
# 1. **Ledger** — a SQLite file per account; the trades, daily marks and VIX/SPX closes of a
#    seeded simulated February 2026 (`tests/fixtures/ledger/month_2026-02.csv`, made by
#    `make_month.py` from an FHS path of the S&P 500 and the VIX) are imported in one
#    transaction.
# 2. **Progress** — month-to-date income per strategy, marked to market, against the pro-rata
#    target on NYSE trading days, and the alerts of each close (behind pro-rata, allocation
#    band, BP cap, correlation groups, drawdown protocol, escalation levels).
# 3. **Re-plan** — on day 10 the optimizer re-solves the rest of the month with the open
#    trades held and the remaining target, and the allocator says which adds would restore the
#    40/35/25 band at least buying power.
#
# The plan's target here is its own expected income (£400/month, the fixture scenario), so being
# ahead or behind depends on how the month went.

# %%
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

from models.calendar import month_trading_days
from optimizer.cli.commands.track import report_figures
from optimizer.inputs.spec import load_scenario
from optimizer.tracking.ledger import import_csv, init_ledger
from optimizer.tracking.tracker import track

FIX = Path("../tests/fixtures/ledger")
scenario = load_scenario(FIX / "month_scenario.yaml")
tmp = Path(tempfile.mkdtemp())
conn = init_ledger(tmp / "account.db")
print(import_csv(conn, FIX / "month_2026-02.csv").line())

# %% [markdown]
# ## 1. The month, close by close
#
# One row per trading day: month-to-date income (realized + unrealized), the pro-rata target,
# the drawdown from the month's peak equity, and the alerts that fired (`stale_market` — the
# plan's market is of 2026-01-30 — is left out of the table).

# %%
days = month_trading_days(date(2026, 2, 2))
reports = {d: track(conn, scenario, d, replan=False) for d in days}
rows = []
for d, r in reports.items():
    m = r["month_to_date"]
    rows.append(
        {
            "date": d,
            "income": round(m["total"]),
            "realized": round(m["realized"]),
            "pro_rata": round(r["pro_rata_target"]),
            "drawdown": f"{r['drawdown']:.1%}",
            "VIX": r["vix"]["value"],
            "alerts": ", ".join(a["code"] for a in r["alerts"] if a["code"] != "stale_market"),
        }
    )
pd.DataFrame(rows).set_index("date")

# %% [markdown]
# The income curve against the target line and the allocation drift (the same figures as
# `thetaplan track … --report month.html`):

# %%
last = reports[days[-1]]
income_fig, drift_fig = report_figures(last, scenario)
income_fig

# %%
drift_fig

# %% [markdown]
# ## 2. Day 10: re-plan the rest of the month
#
# The remaining target is asked as a monthly run rate, `(target − month-to-date) × N / r` for
# the `r` of `N` trading days left; the open trades enter the solve as held positions (their
# counts fixed from below) so they use their share of every cap.

# %%
day10 = track(conn, scenario, days[9], replan=True)
rp = day10["replan"]
print(rp["message"])
print(
    f"remaining target {rp['remaining_target']:,.0f}, run rate {rp['run_rate_target']:,.0f}/month"
)
pd.DataFrame(
    [
        {
            "strategy": p["strategy"],
            "underlying": p["underlying"],
            "strikes": p["strikes"],
            "held": p["held_contracts"],
            "in book": p["contracts"],
            "to add": p.get("contracts_to_add", 0),
        }
        for p in rp["held"] + rp["positions"]
    ]
)

# %% [markdown]
# ## 3. The allocator's advice for the open book
#
# Shares of *expected* income of the open positions (the income model's per-contract figure),
# and the integer adds of least buying power that bring every strategy back into its band.

# %%
rb = day10["rebalance"]
print(rb["message"] if rb else "no open positions to rebalance")
pd.DataFrame(day10["allocation"]["targets"])

# %%
conn.close()
