"""The monthly progress tracker on the seeded simulated month (tests/fixtures/ledger).

Every expected figure is recomputed here from the CSV with the csv module (not through the
ledger or the tracker): month-to-date income marked to market, the pro-rata target on the NYSE
calendar, the alert days, the buying power of the open positions from the scenario's stated
per-unit margins, and the day-10 re-plan as a fresh solve of a scenario written by hand.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from optimizer import pipeline
from optimizer.inputs.spec import load_scenario
from optimizer.tracking.ledger import import_csv, init_ledger
from optimizer.tracking.tracker import track

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ledger"
CSV = FIX / "month_2026-02.csv"
SCENARIO = FIX / "month_scenario.yaml"
NLV, TARGET, FX = 75_000.0, 400.0, 0.7299
# NYSE trading days of February 2026 (Washington's Birthday, Feb 16, closed)
DAYS = [
    date(2026, 2, d) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 17, 18, 19, 20, 23, 24, 25, 26, 27)
]


def _rows():
    with CSV.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _by_hand(day: date) -> dict:
    """Month-to-date income per strategy at the close of ``day``, from the CSV alone."""
    opens, closes, marks = {}, {}, {}
    for r in _rows():
        d = r["timestamp"][:10]
        if d > day.isoformat():
            continue
        if r["event"] == "open":
            opens[r["trade_id"]] = r
        elif r["event"] == "close":
            closes[r["trade_id"]] = r
        elif r["event"] == "mark":
            marks[r["trade_id"]] = float(r["price"])  # rows are in date order: the latest wins
    out: dict[str, float] = {}
    for tid, o in opens.items():
        size = int(o["contracts"]) * float(o["multiplier"])
        if tid in closes:
            c = closes[tid]
            fees = float(o["fees"]) + float(c["fees"])
            pnl = ((float(o["price"]) + float(c["price"])) * size - fees) * FX
        elif tid in marks:
            pnl = (float(o["price"]) + marks[tid]) * size * FX
        else:
            pnl = 0.0
        out[o["strategy"]] = out.get(o["strategy"], 0.0) + pnl
    return out


def _vix(day: date) -> float:
    return [
        float(r["price"])
        for r in _rows()
        if r["event"] == "quote" and r["underlying"] == "VIX" and r["timestamp"][:10] <= str(day)
    ][-1]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    db = tmp_path_factory.mktemp("track") / "month.db"
    conn = init_ledger(db)
    import_csv(conn, CSV)
    yield db, conn
    conn.close()


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def daily(ledger, scenario):
    _, conn = ledger
    return {d: track(conn, scenario, d, replan=False) for d in DAYS}


def test_month_to_date_equals_the_csv_recomputed_by_hand(daily):
    for d, rep in daily.items():
        want = _by_hand(d)
        got = rep["month_to_date"]["per_strategy"]
        for s, v in want.items():
            assert got[s]["realized"] + got[s]["unrealized"] == pytest.approx(v, abs=1e-6), (d, s)
        assert rep["month_to_date"]["total"] == pytest.approx(sum(want.values()), abs=1e-6)


def test_pro_rata_target_follows_the_nyse_calendar(daily):
    for i, d in enumerate(DAYS, start=1):
        rep = daily[d]
        assert rep["trading_days"] == {"month": 19, "elapsed": i, "remaining": 19 - i}
        assert rep["pro_rata_target"] == pytest.approx(TARGET * i / 19)


def _check_alert_days(reports, scenario, nlv: float) -> dict[str, int]:
    """Assert every alert's days against the hand-computed month; count the days each fired."""
    tol = scenario.allocation.tolerance
    weights = {k: s.weight for k, s in scenario.strategies.items()}
    seen = dict.fromkeys(("behind_pro_rata", "allocation_band", "vix", "drawdown", "daily_loss"), 0)
    peak, prev = nlv, nlv
    for i, d in enumerate(DAYS, start=1):
        mtd = _by_hand(d)
        total = sum(mtd.values())
        codes = [a["code"] for a in reports[d]["alerts"]]
        behind = total < TARGET * i / 19 * (1 - scenario.tracking.behind_threshold)
        assert ("behind_pro_rata" in codes) == behind, d
        band = set()
        basis = total >= scenario.tracking.min_share_basis * TARGET * i / 19
        if i >= scenario.tracking.min_days_for_shares and total > 0 and basis:
            band = {k for k, w in weights.items() if abs(mtd.get(k, 0.0) / total - w) > tol}
        got = {a["strategy"] for a in reports[d]["alerts"] if a["code"] == "allocation_band"}
        assert got == band, d
        assert ("vix" in codes) == (_vix(d) >= 25.0), d
        equity = nlv + total
        peak = max(peak, equity)
        assert ("drawdown" in codes) == (1 - equity / peak >= 0.10), d
        assert ("daily_loss" in codes) == ((prev - equity) / nlv >= 0.05), d
        severity = {a["code"]: a["severity"] for a in reports[d]["alerts"]}
        if "daily_loss" in codes:  # 5% warning, 10% and beyond critical (drawdown_protocol.csv)
            want = "critical" if (prev - equity) / nlv >= 0.10 else "warning"
            assert severity["daily_loss"] == want, d
        prev = equity
        for k in seen:
            seen[k] += k in codes
    return seen


def test_alerts_fire_on_the_days_they_should(daily, scenario):
    """Each alert's days, from the hand-computed month: not one day early or late."""
    seen = _check_alert_days(daily, scenario, NLV)
    # the fixture month exercises these alerts both ways (a test on a month where nothing
    # happens could not fail)
    assert 0 < seen["behind_pro_rata"] < len(DAYS)
    assert 0 < seen["allocation_band"] < len(DAYS)
    assert 0 < seen["vix"] < len(DAYS)


def test_small_account_hits_the_drawdown_protocol(ledger, scenario):
    """The same month on a £15k account (phase 4 kept): drawdown, daily-loss and group alerts.

    The LT112's cash delta on each day is recomputed by hand: Black–Scholes–Merton delta (the
    closed form, scipy's normal CDF) at the ledger's SPX close, the 2026-01-30 smile read at the
    same strike / spot and scaled by the VIX ratio, the days left to expiry, and the rate and
    carry of the 2026-01-30 surface at that tenor (what the tracker's valuation states).
    """
    from scipy.stats import norm

    _, conn = ledger
    nlv = 15_000.0
    small = scenario.model_copy(
        update={"account": scenario.account.model_copy(update={"net_liq": nlv})}
    )
    reports = {d: track(conn, small, d, replan=False) for d in DAYS}
    seen = _check_alert_days(reports, small, nlv)
    assert 0 < seen["drawdown"] < len(DAYS)
    assert 0 < seen["daily_loss"] < len(DAYS)
    base = pipeline.prepare(small).market
    mes = base.surfaces["MES"]
    spx0 = yaml.safe_load(SCENARIO.read_text())["market"]["chains"]["SPX"]["spot"]
    vix0 = base.vix
    lt = next(r for r in _rows() if r["event"] == "open" and r["strategy"] == "lt112")
    legs = [
        (leg[2], float(leg[3:].split("@")[0]), int(leg[:2]), leg.split("@")[1])
        for leg in lt["legs"].split(";")
    ]

    def spx_close(d):
        return [
            float(r["price"])
            for r in _rows()
            if r["event"] == "quote" and r["underlying"] == "SPX" and r["timestamp"][:10] == str(d)
        ][0]

    for d in DAYS:
        risk = [a for a in reports[d]["alerts"] if a["code"] == "group_risk"]
        if d < date(2026, 2, 4):  # the LT112 opens on the first Wednesday
            assert risk == []
            continue
        s = spx_close(d)
        cash = 0.0
        for right, k, qty, expiry in legs:
            t = (date.fromisoformat(expiry) - d).days / 365.0
            f0, df = float(mes.forward(t)), float(mes.discount_factor(t))
            r = -np.log(df) / t
            q = r - np.log(f0 / mes.spot) / t
            vol = float(mes.iv(k * spx0 / s, t)) * _vix(d) / vix0
            d1 = (np.log(s / k) + (r - q + vol**2 / 2) * t) / (vol * np.sqrt(t))
            delta = np.exp(-q * t) * (norm.cdf(d1) - (right == "P"))
            cash += qty * delta * 5.0 * s * FX * int(lt["contracts"])
        assert (risk != []) == (abs(cash) > 0.15 * nlv), d
        if risk:
            assert [a["group"] for a in risk] == ["A1"]
            assert risk[0]["value"] == pytest.approx(cash, rel=1e-6), d
            assert risk[0]["limit"] == pytest.approx(0.15 * nlv)
    assert any(a["code"] == "group_risk" for r in reports.values() for a in r["alerts"])


def _held_bp(day: date) -> float:
    """BP of the open trades from the scenario's stated per-unit margins (GBP)."""
    sc = yaml.safe_load(SCENARIO.read_text())
    mes = sc["strategies"]["lt112"]["underlyings"]["MES"]["margin"]["per_unit"]["MES"]  # GBP
    mgc = sc["strategies"]["strangle"]["margin"]["per_unit"]["MGC"] * FX  # USD → GBP
    per = {"MES": mes, "MGC": mgc}
    opened, closed = {}, set()
    for r in _rows():
        if r["timestamp"][:10] > day.isoformat():
            continue
        if r["event"] == "open":
            opened[r["trade_id"]] = r
        elif r["event"] == "close":
            closed.add(r["trade_id"])
    return sum(
        per[o["underlying"]] * int(o["contracts"]) for t, o in opened.items() if t not in closed
    )


def test_buying_power_alert_against_the_vix_table_cap(ledger, scenario):
    """At a £20k account (phase 4 kept) the BP cap is crossed the day the strangles open."""
    _, conn = ledger
    small = scenario.model_copy(
        update={"account": scenario.account.model_copy(update={"net_liq": 20_000.0})}
    )
    fired = []
    for d in DAYS[:9]:
        rep = track(conn, small, d, replan=False)
        bp = rep["buying_power"]
        assert bp["used"] == pytest.approx(_held_bp(d), rel=1e-9)
        assert bp["cap"] == pytest.approx(bp["cap_fraction"] * 20_000.0)
        if any(a["code"] == "bp_above_cap" for a in rep["alerts"]):
            fired.append(d)
        assert (d in fired) == (bp["used"] > bp["cap"])
    assert fired and fired[0] == date(2026, 2, 10)  # the MGC strangles open on the 2nd Tuesday


def _soft_band(scenario):
    """The fixture with a soft allocation band (``allocation.mode: soft``).

    On the 13th the fixture's only chain (2026-01-30) has no 0DTE structure left (each expired
    by the as-of date), so under the hard 40/35/25 band no re-plan book exists; the soft band
    keeps a book to test the re-plan's mechanics (held counts, adds) on.
    """
    from optimizer.inputs.spec_base import AllocationMode

    alloc = scenario.allocation.model_copy(update={"mode": AllocationMode.SOFT})
    return scenario.model_copy(update={"allocation": alloc})


@pytest.fixture(scope="module")
def day10_with_scenario(ledger, scenario):
    _, conn = ledger
    seen = []
    rep = track(
        conn,
        _soft_band(scenario),
        DAYS[9],
        replan=True,
        diagnostics_level="light",
        on_replan=seen.append,
    )
    return rep, seen[0]


@pytest.fixture(scope="module")
def day10(day10_with_scenario):
    return day10_with_scenario[0]


def test_day10_replan_equals_a_fresh_solve(day10, tmp_path):
    """The re-plan equals ``solve`` of the scenario with the open trades as held positions."""
    d = DAYS[9]
    total = sum(_by_hand(d).values())
    remaining = TARGET - total
    run_rate = remaining * 19 / 9
    rp = day10["replan"]
    assert rp["remaining_target"] == pytest.approx(remaining)
    assert rp["run_rate_target"] == pytest.approx(run_rate)
    held, closed = [], set()
    for r in _rows():
        if r["event"] == "close" and r["timestamp"][:10] <= str(d):
            closed.add(r["trade_id"])
    for r in _rows():
        if r["event"] == "open" and r["timestamp"][:10] <= str(d) and r["trade_id"] not in closed:
            legs = []
            for leg in r["legs"].split(";"):
                qty, rest = leg[:2], leg[2:]
                right, strike_exp = rest[0], rest[1:]
                strike, expiry = strike_exp.split("@")
                legs.append(
                    {
                        "right": right,
                        "quantity": int(qty),
                        "strike": float(strike),
                        "expiry": expiry,
                    }
                )
            held.append(
                {
                    "strategy": r["strategy"],
                    "underlying": r["underlying"],
                    "contracts": int(r["contracts"]),
                    "legs": legs,
                }
            )
    raw = yaml.safe_load(SCENARIO.read_text())
    raw["held"] = held
    raw["target"]["monthly_income"] = run_rate
    raw["allocation"]["mode"] = "soft"  # as in the fixture day10 (_soft_band)
    raw["tracking"]["as_of"] = str(d)  # candidates expiring on or before it are excluded
    path = FIX / "_replan_day10.yaml"  # next to the fixture: its relative data paths resolve
    try:
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        pipeline.clear_cache()  # a fresh solve: no candidates or simulations reused
        fresh = pipeline.solve_scenario(
            load_scenario(path), diagnostics_level="light", min_nlv_search=False
        ).to_dict()
    finally:
        path.unlink(missing_ok=True)
    book = {p["id"]: (p["contracts"], p["held_contracts"]) for p in fresh["positions"]}
    mine = {p["id"]: (p["contracts"], p["held_contracts"]) for p in rp["held"]}
    mine.update({p["id"]: (p["contracts"], p["held_contracts"]) for p in rp["positions"]})
    assert mine == book
    assert rp["verdict"]["status"] == fresh["verdict"]["status"]
    assert rp["portfolio"]["expected_monthly_income"] == pytest.approx(
        fresh["portfolio"]["expected_monthly_income"], rel=1e-9
    )
    # the held positions are in the book at (at least) their ledger counts
    assert sorted(c for c, _ in mine.values() if _) == sorted(h["contracts"] for h in held)
    for p in rp["positions"]:
        assert p["contracts_to_add"] == p["contracts"] - p["held_contracts"] > 0


def test_replan_never_offers_a_contract_expired_by_the_as_of_date(day10, day10_with_scenario):
    """The fixture's chain is of 2026-01-30; on 2026-02-13 its 0DTE structures have expired.

    Before, the re-plan advised buying a 2026-02-02 0DTE condor on the 13th (11 days expired).
    """
    rp = day10["replan"]
    assert rp["held"], "the day-10 re-plan holds the open trades"
    for p in rp["positions"]:
        assert str(p["expiry"])[:10] > str(DAYS[9])
    sc = day10_with_scenario[1]
    assert sc.tracking.as_of == DAYS[9]
    prep = pipeline.prepare(sc)
    reasons = prep.candidates.excluded.set_index("id")["reason"]
    expired = [i for i in reasons.index if i.startswith("zero_dte:")]
    assert expired and all(reasons[i] == "expired by the as-of date 2026-02-13" for i in expired)
    assert not (prep.candidates.table["strategy"] == "zero_dte").any()
    # and each excluded id's expiry (in the id) is on or before the as-of date
    assert all(i.split(":")[2][:10] <= "2026-02-13" for i in expired)


def test_replan_on_a_stale_chain_is_refused(ledger, scenario):
    """With the default tolerance (3 days) a 14-day-old chain gets no re-plan, and says why."""
    _, conn = ledger
    tracking = scenario.tracking.model_copy(update={"stale_market_days": 3})
    sc = scenario.model_copy(update={"tracking": tracking})
    rep = track(conn, sc, DAYS[9], replan=True, diagnostics_level="light")
    rp = rep["replan"]
    assert rp["status"] == "stale_chain" and rp["catch_up"] is False
    assert rp["needs_chain_dated"] == "2026-02-10"  # 2026-02-13 minus 3 calendar days
    assert "needs a chain dated 2026-02-10 or later" in rp["message"]
    assert "2026-01-30" in rp["message"] and rp["positions"] == []
    assert rep["rebalance"] is None
    # within the tolerance the re-plan runs: 2026-02-02 is 3 days after the chain
    early = track(conn, sc, date(2026, 2, 2), replan=True, diagnostics_level="light")
    assert early["replan"]["status"] != "stale_chain"


def test_replan_reports_catch_up_or_relaxation(day10):
    rp = day10["replan"]
    if rp["catch_up"]:
        assert rp["verdict"]["status"] == "FEASIBLE" and rp["message"].startswith("catch-up")
    else:
        assert rp["verdict"]["status"] != "FEASIBLE"
        assert rp["message"].startswith("no feasible catch-up under the caps")
    assert day10["theta_per_day"]["plan"] > 0


def test_held_position_count_is_fixed_from_below(scenario):
    """A held candidate stays in the book even when the objective would drop it."""
    prep = pipeline.prepare(scenario)
    cs = prep.candidates
    worst = (
        cs.table.loc[cs.table["strategy"] == "strangle"]
        .sort_values("expected_monthly_income_per_contract")
        .iloc[0]
    )
    c = cs.structures[worst["id"]]
    held = [
        {
            "strategy": "strangle",
            "underlying": worst["underlying"],
            "contracts": 1,
            "legs": [
                {
                    "right": leg.right.value,
                    "quantity": leg.quantity,
                    "strike": leg.strike,
                    "expiry": leg.expiry.date().isoformat(),
                }
                for leg in c.legs
            ],
        }
    ]
    from optimizer.inputs.spec import HeldPositionSpec

    sc = scenario.model_copy(update={"held": [HeldPositionSpec(**h) for h in held]})
    res = pipeline.solve_scenario(sc, diagnostics_level="light", min_nlv_search=False)
    pos = res.positions.set_index("id")
    assert pos.loc[worst["id"], "contracts"] >= 1
    assert pos.loc[worst["id"], "held_contracts"] == 1
    # the plan without it does not hold this strangle: the bound, not the objective, keeps it
    plan = pipeline.solve_scenario(scenario, diagnostics_level="light", min_nlv_search=False)
    assert worst["id"] not in set(plan.positions["id"])


def test_bad_held_position_names_the_field(scenario):
    from models.errors import SpecError
    from optimizer.inputs.spec import HeldPositionSpec

    h = HeldPositionSpec(
        strategy="lt112",
        underlying="MES",
        contracts=1,
        legs=[{"right": "P", "quantity": -1, "strike": 6000, "expiry": "2026-01-02"}],
    )
    with pytest.raises(SpecError, match=r"^held\.0: cannot price"):
        pipeline.prepare(scenario.model_copy(update={"held": [h]}))


def test_cli_track_json_is_one_document(ledger, tmp_path):
    db, _ = ledger
    r = subprocess.run(
        [
            str(Path(sys.executable).parent / "thetaplan"),
            "track",
            str(db),
            "--scenario",
            str(SCENARIO),
            "--as-of",
            "2026-02-13",
            "--json",
            "--no-replan",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and r.stdout.startswith("{"), (r.stdout[:300], r.stderr[-2000:])
    doc = json.loads(r.stdout)
    assert set(doc["month_to_date"]) >= {"realized", "unrealized", "per_strategy"}
    assert doc["pro_rata_target"] == pytest.approx(TARGET * 10 / 19)
    assert all(set(a) >= {"code", "severity", "message"} for a in doc["alerts"])
    assert doc["replan"] is None


def test_cli_track_report_and_errors(ledger, tmp_path, capsys):
    from typer.testing import CliRunner

    from optimizer.cli.app import app

    db, _ = ledger
    runner = CliRunner()
    md, html = tmp_path / "feb.md", tmp_path / "feb.html"
    for report in (md, html):
        args = ["track", str(db), "--scenario", str(SCENARIO), "--as-of", "2026-02-20"]
        res = runner.invoke(app, [*args, "--no-replan", "--report", str(report)])
        assert res.exit_code == 0, res.output
    text = md.read_text()
    assert "feb_income.png" in text and "feb_allocation.png" in text
    # without a re-plan there is no plan theta: said so, not "plan — GBP" (issue 20)
    assert "(no re-plan run)" in text and "plan —" not in text
    assert "(no re-plan run)" in html.read_text()
    assert (tmp_path / "feb_income.png").read_bytes()[:4] == b"\x89PNG"
    assert html.read_text().count("data:image/png;base64,") == 2
    from optimizer.cli.app import main

    for args, msg in (
        (["--as-of", "2026-02-31"], "--as-of: '2026-02-31' is not a YYYY-MM-DD date"),
        (["--report", str(tmp_path / "x.pdf")], "--report: x.pdf: expected a .html or .md file"),
        (["--report", str(tmp_path / "nope" / "x.html")], "--report: folder"),
        (["--write-scenario", str(tmp_path / "r.yaml"), "--no-replan"], "needs the re-plan"),
    ):
        with pytest.raises(SystemExit) as ei:
            main(["track", str(db), "--scenario", str(SCENARIO), *args])
        assert ei.value.code == 2
        assert msg in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:
        main(["track", str(tmp_path / "none.db"), "--scenario", str(SCENARIO)])
    assert ei.value.code == 2 and "no such ledger" in capsys.readouterr().err


def test_month_to_date_counts_only_this_months_change(tmp_path):
    """A trade opened last month counts from its last mark of last month (hand case)."""
    p = tmp_path / "two.csv"
    p.write_text(
        "trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,"
        "currency,fx_to_account,fees,legs\n"
        "A,open,2026-01-20,U,pcs,SPX,1,5.00,100,USD,1,2,-1P6000@2026-03-20;+1P5950@2026-03-20\n"
        "A,mark,2026-01-30,,,,,-3.00,,,,,\n"
        "A,mark,2026-02-05,,,,,-2.00,,,,,\n"
        "A,close,2026-02-10,,,,,-1.00,,,,2,\n"
    )
    from optimizer.tracking.ledger import month_to_date

    conn = init_ledger(tmp_path / "two.db")
    import_csv(conn, p)
    # Jan: (5 − 3) × 100 = 200 unrealized; Feb 5: (5 − 2) × 100 − 200 = 100 unrealized
    assert month_to_date(conn, "2026-01-31") == {"pcs": {"realized": 0.0, "unrealized": 200.0}}
    assert month_to_date(conn, "2026-02-05") == {"pcs": {"realized": 0.0, "unrealized": 100.0}}
    # closed Feb 10: (5 − 1) × 100 − 4 fees = 396 in all, 396 − 200 = 196 this month
    assert month_to_date(conn, "2026-02-10") == {"pcs": {"realized": 196.0, "unrealized": 0.0}}
    assert month_to_date(conn, "2026-03-02") == {}
    conn.close()
    assert DAYS[-1] + timedelta(days=1) == date(2026, 2, 28)


def test_open_trades_the_plan_cannot_price_are_alerts_not_errors(tmp_path, scenario):
    """Unknown strategy, unknown underlying, expired legs: named alerts, the rest still runs."""
    p = tmp_path / "odd.csv"
    p.write_text(
        "trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,"
        "currency,fx_to_account,fees,legs\n"
        "X1,open,2026-02-03,U,lt112,SPY,1,1.00,100,USD,0.73,1,-1P500@2026-03-20\n"
        "X2,open,2026-02-03,U,lt112,MES,1,1.00,5,USD,0.73,1,-1P6000@2026-01-20\n"
        "X3,open,2026-02-03,U,wheel,SPY,1,1.00,100,USD,0.73,1,-1P500@2026-03-20\n"
        "X4,open,2026-02-03,U,strangle,MGC,2,30.0,10,USD,0.73,1,"
        "-1P3885@2026-04-30;-1C6605@2026-04-30\n"
    )
    conn = init_ledger(tmp_path / "odd.db")
    import_csv(conn, p)
    rep = track(conn, scenario, date(2026, 2, 5), replan=False)
    conn.close()
    by = {}
    for a in rep["alerts"]:
        by.setdefault(a["code"], []).append(a["message"])
    assert [m.split(":")[0] for m in by["unknown_strategy"]] == ["open trade X3"]
    assert len(by["unpriced_position"]) == 2
    assert "X1 (lt112 SPY): no market data for SPY" in by["unpriced_position"][0]
    assert "X2 (lt112 MES)" in by["unpriced_position"][1]
    assert "not after the valuation time" in by["unpriced_position"][1]
    # the priced strangle still counts: 2 × the stated MGC margin (USD 3,650) in GBP
    assert [o["id"] for o in rep["open_positions"]] == ["X4"]
    assert rep["buying_power"]["used"] == pytest.approx(2 * 3650 * FX)


def test_written_replan_scenario_reads_back_equal(day10_with_scenario, tmp_path):
    """``--write-scenario``: the YAML of the re-plan scenario loads back to the same scenario."""
    from optimizer.inputs.spec import scenario_to_yaml

    rep, sc = day10_with_scenario
    path = tmp_path / "elsewhere" / "replan.yaml"  # not beside the fixture: paths are absolute
    path.parent.mkdir()
    path.write_text(scenario_to_yaml(sc))
    back = load_scenario(path)
    assert back.held == sc.held
    assert back.target.monthly_income == pytest.approx(rep["replan"]["run_rate_target"])
    assert back.model_dump(exclude={"base_dir", "market"}) == sc.model_dump(
        exclude={"base_dir", "market"}
    )
    assert [h.id for h in back.held] == ["M001", "M003"]  # the LT112 and the strangles


def test_share_of_gross_pnl_is_bounded_and_documented(daily, ledger, tmp_path):
    """The reports' share is of the gross P&L (Σ |P&L| of the strategies), within ±100%.

    On 2026-02-13 the strategies' P&L nearly cancel (−796, −35 and +925: net 94), and the share
    of the net total read −844% and 981%.
    """
    for d, rep in daily.items():
        want = _by_hand(d)
        gross = sum(abs(v) for v in want.values())
        m = rep["month_to_date"]
        assert m["gross"] == pytest.approx(gross, abs=1e-6)
        for s, v in want.items():
            sg = m["per_strategy"][s]["share_of_gross"]
            assert sg is None if gross == 0 else sg == pytest.approx(v / gross, abs=1e-9)
            assert sg is None or -1.0 <= sg <= 1.0
    feb13 = daily[date(2026, 2, 13)]["month_to_date"]
    assert feb13["total"] == pytest.approx(94, abs=1)  # the case of the finding
    from optimizer.cli.app import main

    db, _ = ledger
    html = tmp_path / "feb13.html"
    args = ["track", str(db), "--scenario", str(SCENARIO), "--as-of", "2026-02-13"]
    with pytest.raises(SystemExit) as ei:
        main([*args, "--no-replan", "--report", str(html)])
    assert ei.value.code in (0, None)
    page = html.read_text()
    text = page[page.index('<table id="per-strategy">') : page.index("<h2>Income curve</h2>")]
    assert "<th>share of gross P&amp;L</th>" in text
    want = _by_hand(date(2026, 2, 13))
    gross = sum(abs(v) for v in want.values())
    for s in ("lt112", "strangle", "zero_dte"):  # -45.3%, -2.0%, 52.7%
        assert f"<tr><td>{s}</td>" in text and f"<td>{want[s] / gross:.1%}</td>" in text
    assert "844" not in text and "981" not in text  # no share of the net 94
    assert f"absolute P&amp;L ({gross:,.0f} GBP)" in text  # the note says what the share is
