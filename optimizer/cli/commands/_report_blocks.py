"""Blocks of the HTML report (tables, figures, sections) and the sections of one scenario's report: positions, portfolio, allocation, risk, caps, the verdict summary."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from optimizer.formatting import expiry_label, field_of, fmt, money, pct, relaxation_text

if TYPE_CHECKING:  # numpy, pandas, matplotlib and the solver stack: imported when a command runs
    import pandas as pd
    from matplotlib.figure import Figure

    from optimizer.verdict.result import SizingResult

REPORT_NAME = "report.html"


# ----------------------------------------------------------------------------- blocks
def _table(
    table_id: str,
    caption: str,
    columns: Sequence[tuple[str, bool]],
    rows: Iterable[Sequence[Any]],
    *,
    header: bool = True,
    notes: Sequence[str] = (),
    status_col: int | None = None,
) -> dict:
    """A table block: ``columns`` = (name, numeric) pairs; cells as text (status cells coloured).

    A cell given as a mapping keeps its own CSS class (``cls``; ``sub``: an indented sub-line)
    and may hold ``lines`` (printed one per line) instead of ``text``.
    """
    body = []
    for row in rows:
        cells = []
        for j, value in enumerate(row):
            if isinstance(value, dict):  # {"text" or "lines": …, "cls": …}
                lines = [str(x) for x in value.get("lines", ())]
                text = str(value.get("text", "; ".join(lines)))
                cells.append({"text": text, "lines": lines, "cls": value.get("cls", "")})
                continue
            cls = "num" if columns[j][1] else ""
            if status_col is not None and j == status_col:
                cls = str(value)
            cells.append({"text": str(value), "lines": [], "cls": cls})
        body.append(cells)
    return {
        "type": "table",
        "id": table_id,
        "caption": caption,
        "columns": [{"name": n, "num": num} for n, num in columns],
        "rows": body,
        "header": header,
        "notes": list(notes),
    }


def _figure(fig_id: str, fig: Figure, caption: str, alt: str) -> dict:
    """A figure block: the figure as an embedded base64 PNG."""
    from optimizer.plots import png_bytes

    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    return {"type": "figure", "id": fig_id, "png_b64": data, "caption": caption, "alt": alt}


def _section(section_id: str, title: str, blocks: list[dict], intro: Sequence[str] = ()) -> dict:
    return {"id": section_id, "title": title, "blocks": blocks, "intro": list(intro)}


def _version() -> str:
    from optimizer.outputs import package_version

    return package_version()


def _ci_text(ci: Sequence[float] | None) -> str:
    if not ci:
        return "—"
    return f"{fmt(ci[0], '.2%')}–{fmt(ci[1], '.2%')}"


# ----------------------------------------------------------------------------- scenario
def _positions_block(result: SizingResult) -> dict:
    ccy = result.portfolio["currency"]
    cols = [
        ("strategy", False),
        ("underlying", False),
        ("expiry", False),
        ("legs (qty right strike)", False),
        ("qty", True),
        ("credit / contract", True),
        ("theta / day / contract", True),
        ("BP / contract", True),
        ("gross income / month / contract", True),
        ("costs / month / contract", True),
        ("net income / month / contract", True),
        ("net income / month", True),
    ]
    rows = []
    for _, r in result.positions.iterrows():
        rows.append(
            [
                r["strategy"],
                r["underlying"],
                {"text": expiry_label(r["expiry"], float(r["dte"])), "cls": "nowrap"},
                r["strikes"],
                int(r["contracts"]),
                fmt(r["credit_per_contract"], ",.2f"),
                fmt(r["theta_per_day_per_contract"], ",.2f"),
                fmt(r["bp_per_contract"], ",.0f"),
                fmt(r["expected_monthly_income_gross_per_contract"], ",.2f"),
                fmt(r["costs_per_month_per_contract"], ",.2f"),
                fmt(r["expected_monthly_income_per_contract"], ",.2f"),
                fmt(r["expected_monthly_income"], ",.2f"),
            ]
        )
    notes = [] if rows else ["The book is empty: no position is opened under the caps."]
    return _table(
        "positions",
        f"Positions (qty = contracts; money in {ccy}, per contract unless stated)",
        cols,
        rows,
        notes=notes,
    )


def _portfolio_block(result: SizingResult) -> dict:
    p = result.portfolio
    ccy = p["currency"]
    rows: list[tuple[Any, str]] = [("net liquidation value", money(p["net_liq"], ccy))]
    costs = p.get("costs_per_month")
    if costs:
        rows += [
            (
                "expected monthly income, gross (before costs)",
                money(p["expected_monthly_income_gross"], ccy),
            ),
            ("− costs per month", money(costs["total"], ccy)),
            (
                {"text": "costs: commissions and fees", "cls": "sub"},
                money(costs["commissions"], ccy),
            ),
            ({"text": "costs: bid-ask spread", "cls": "sub"}, money(costs["spread"], ccy)),
            ({"text": "costs: stop slippage", "cls": "sub"}, money(costs["slippage"], ccy)),
            ({"text": "costs: FX conversion", "cls": "sub"}, money(costs["fx"], ccy)),
            ("= expected monthly income, net", money(p["expected_monthly_income"], ccy)),
        ]
    else:
        rows.append(
            ("expected monthly income (no cost model)", money(p["expected_monthly_income"], ccy))
        )
    mv = p.get("monthly_var")
    if mv:
        rows += [
            (f"monthly VaR {pct(mv['confidence'])} (loss)", money(mv["value"], ccy)),
            (
                f"monthly CVaR {pct(p['monthly_cvar']['confidence'])} (loss)",
                money(p["monthly_cvar"]["value"], ccy),
            ),
        ]
    rows += [
        ("theta per day (book, per calendar day)", f"{fmt(p['theta_per_day'], ',.2f')} {ccy}"),
        ("buying power used", money(p["bp_used"], ccy)),
        ("buying power used, share of NLV", pct(p["bp_used_pct"])),
        ("buying power cap", money(p["bp_cap"], ccy)),
        ("net credit", money(p["credit"], ccy)),
        ("cash delta", money(p["cash_delta"], ccy)),
        ("vega per vol point", f"{fmt(p['vega'], ',.1f')} {ccy}"),
        ("positions", str(p["positions"])),
        ("contracts", str(p["contracts"])),
    ]
    return _table(
        "portfolio",
        f"Portfolio ({ccy}; income per month, expected in sample: over the income model's months)",
        [("metric", False), ("value", True)],
        rows,
        header=False,
    )


def _allocation_block(result: SizingResult) -> dict:
    cols = [
        ("strategy", False),
        ("weight", True),
        ("target", True),
        ("actual", True),
        ("share", True),
        ("shortfall", True),
        ("achievement", True),
    ]
    rows = [
        [
            r["strategy"],
            pct(r["weight"]),
            money(r["target"]),
            money(r["actual"]),
            pct(r["share"]),
            money(r["shortfall"]),
            pct(r["achievement"]),
        ]
        for _, r in result.allocation.iterrows()
    ]
    tol = result.limits.get("allocation_tolerance")
    caption = (
        f"Allocation of expected monthly income (share within weight ± {pct(tol)})"
        if tol is not None
        else "Allocation disabled: expected monthly income by strategy"
    )
    return _table("allocation", caption, cols, rows)


def _var_table(by_confidence) -> tuple[list[tuple[str, bool]], list[list[str]]]:
    """Columns and rows of a VaR/CVaR table (in and out of sample, one row per confidence)."""
    cols = [
        ("confidence", True),
        ("VaR in sample", True),
        ("CVaR in sample", True),
        ("VaR out of sample", True),
        ("CVaR out of sample", True),
    ]
    rows = [
        [
            pct(r["confidence"]),
            money(r["var_in_sample"]),
            money(r["cvar_in_sample"]),
            money(r["var_out_of_sample"]),
            money(r["cvar_out_of_sample"]),
        ]
        for r in by_confidence
    ]
    return cols, rows


def _risk_blocks(result: SizingResult) -> list[dict]:
    from optimizer.formatting import horizon_label

    p = result.portfolio
    ccy = p["currency"]
    blocks = []
    var = p.get("var")
    if var:
        horizon = horizon_label(var["horizon_days"], var.get("scenarios"))
        cols, rows = _var_table(var["by_confidence"])
        kind = str(var.get("scenarios", "")).replace("_", " ")
        blocks.append(
            _table(
                "tail-risk",
                f"Tail risk over {horizon} ({ccy}, loss > 0)",
                cols,
                rows,
                notes=[
                    f"in sample: {kind} ({var['n_in_sample']:,} scenarios); out of sample: "
                    f"Monte Carlo ({var['n_out_of_sample']:,} draws)"
                ],
            )
        )
    mv = p.get("monthly_var")
    if mv and mv.get("by_confidence"):
        cols, rows = _var_table(mv["by_confidence"])
        blocks.append(
            _table(
                "monthly-risk",
                f"Monthly P&L risk ({mv.get('horizon', 'one month')}; {ccy}, loss > 0)",
                cols,
                rows,
            )
        )
    if result.stress:
        rows = [[d["name"], money(d["loss"]), pct(d["loss"] / p["net_liq"])] for d in result.stress]
        blocks.append(
            _table(
                "stresses",
                f"Named stresses (book loss, {ccy})",
                [("stress", False), ("loss", True), ("% of NLV", True)],
                rows,
            )
        )
    if result.win_rates:
        cols = [
            ("strategy", False),
            ("modelled win rate", True),
            ("claimed", True),
            ("avg win", True),
            ("avg loss", True),
            ("expected per trade", True),
            ("days held", True),
            ("basis", False),
        ]
        rows = [
            [
                w["strategy"],
                pct(w["win_rate"]),
                pct(w["claimed_win_rate"]),
                money(w["avg_win"]),
                money(w["avg_loss"]),
                fmt(w.get("expected_trade"), ",.2f"),
                fmt(w["avg_days_held"], ".2f"),
                w["basis"],
            ]
            for w in result.win_rates
        ]
        blocks.append(
            _table(
                "win-rates",
                f"Win rates: income model, net of costs, vs claimed ({ccy} per trade)",
                cols,
                rows,
            )
        )
    return blocks


def _caps_blocks(result: SizingResult) -> list[dict]:
    v = result.verdict
    blocks = []
    if v.relaxations:
        rows = [
            [field_of(r, "cap"), money(field_of(r, "max_income")), pct(field_of(r, "achievement"))]
            for r in v.relaxations
        ]
        blocks.append(
            _table(
                "relaxations",
                "Max expected monthly income with one cap family lifted (others kept)",
                [("cap family lifted", False), ("max income", True), ("of target", True)],
                rows,
            )
        )
    steps = tuple(v.minimal_relaxation or ())
    note = str(v.minimal_relaxation_note or "")
    if steps:
        rows = [
            [s.cap, fmt(s.bound, ",.4g"), fmt(s.needed, ",.4g"), s.unit, relaxation_text(s)]
            for s in steps
        ]
        blocks.append(
            _table(
                "minimal-relaxation",
                "Joint minimal relaxation: the smallest cap increases that reach the target",
                [
                    ("cap", False),
                    ("in force", True),
                    ("needed", True),
                    ("unit", False),
                    ("reading", False),
                ],
                rows,
                notes=[note] if note else [],
            )
        )
    else:
        blocks.append({"type": "text", "text": f"Joint minimal relaxation: {note or '—'}."})
    if v.conflicts:
        blocks.append({"type": "text", "text": "Caps in conflict: " + ", ".join(v.conflicts)})
    if v.binding:
        rows = [
            [
                b.family,
                b.row,
                fmt(b.activity, ",.2f"),
                fmt(b.bound, ",.2f"),
                fmt(b.slack, ",.2f"),
                fmt(b.shadow_price, ",.4f"),
            ]
            for b in v.binding
        ]
        blocks.append(
            _table(
                "binding",
                "Binding caps at the max-income book",
                [
                    ("family", False),
                    ("cap", False),
                    ("value", True),
                    ("bound", True),
                    ("slack", True),
                    ("shadow price", True),
                ],
                rows,
                notes=["shadow: LP-relaxation change of max income per unit of bound"],
            )
        )
    return blocks


def _scenario_summary(result: SizingResult) -> list[tuple[str, str]]:
    v = result.verdict
    ccy = result.portfolio["currency"]
    p_text = "not computed"
    if v.success_probability is not None:
        p_text = (
            f"{fmt(v.success_probability, '.2%')} (95% CI {_ci_text(v.success_probability_ci)})"
        )
    min_nlv = money(v.min_nlv.value, ccy) if v.min_nlv.value is not None else "none"
    if v.min_nlv.value is None and v.min_nlv.status == "not_searched":
        min_nlv = "not searched"
    return [
        ("monthly target", money(v.target, ccy)),
        ("max achievable income / month", money(v.max_income, ccy)),
        ("achievement (max / target)", pct(v.achievement)),
        ("chosen book income / month, in sample", money(v.chosen_income, ccy)),
        ("P(month ≥ target), out of sample", p_text),
        ("minimum account for the target", min_nlv),
    ]


def _income_vs_nlv_section(fig, caption: str, *extra: dict) -> dict:
    """The "Max expected income vs account size" section: the figure, then ``extra`` blocks."""
    return _section(
        "income-vs-nlv",
        "Max expected income vs account size",
        [
            _figure(
                "income-vs-nlv",
                fig,
                caption,
                "step curve of max income against net liquidation value",
            ),
            *extra,
        ],
    )


def build_scenario_report(
    result: SizingResult, *, source: str, curve: pd.DataFrame | None = None
) -> dict:
    """The report document of one solved scenario (the template's ``doc``).

    Parameters
    ----------
    result : SizingResult
        The solve (``thetaplan solve``'s result).
    source : str
        The input file, for the footer.
    curve : pd.DataFrame, optional
        Max income against NLV up to the minimum NLV
        (:func:`optimizer.studies.phases.income_curve`), drawn when given.

    Returns
    -------
    dict
        ``title, subtitle, version, source, verdict {status, sentence}, summary [(label,
        value)], sections [{id, title, intro, blocks}]``; table blocks carry ``id``,
        ``caption``, ``columns`` and ``rows`` of text cells (money in the account currency).
    """
    from optimizer import plots

    v = result.verdict
    p = result.portfolio
    ccy = p["currency"]
    sections = [
        _section("positions", "Positions", [_positions_block(result)]),
        _section("portfolio", "Portfolio and allocation", [_portfolio_block(result)]),
    ]
    sections[-1]["blocks"].append(_allocation_block(result))
    risk = _risk_blocks(result)
    if risk:
        sections.append(_section("risk", "Tail risk, stresses and win rates", risk))
    sections.append(_section("caps", "What the caps cost", _caps_blocks(result)))
    if result.monthly_pnl is not None:
        mv, mc = p.get("monthly_var") or {}, p.get("monthly_cvar") or {}
        fig = plots.monthly_histogram(
            result.monthly_pnl,
            v.target,
            mv.get("value"),
            mc.get("value"),
            confidence=mv.get("confidence"),
            expected=v.chosen_income,
            ccy=ccy,
        )
        sections.append(
            _section(
                "monthly-pnl",
                "Monthly P&L distribution",
                [
                    _figure(
                        "monthly-pnl-figure",
                        fig,
                        f"Monthly P&L of the chosen book ({ccy}) over fresh simulated months "
                        "(out of sample: months the optimizer did not see), with the target and "
                        "the monthly VaR/CVaR. Its mean differs from the expected income of the "
                        "tables (in sample: the income model's months the book was sized on, "
                        "drawn dash-dotted) by sampling error.",
                        "histogram of simulated monthly P&L",
                    )
                ],
            )
        )
    if curve is not None and not curve.empty:
        fig = plots.income_vs_nlv(
            curve,
            v.target,
            ccy=ccy,
            current={None: p["net_liq"]},
            min_nlv={None: v.min_nlv.value} if v.min_nlv.value is not None else None,
        )
        sections.append(
            _income_vs_nlv_section(
                fig,
                f"Max expected monthly income (net of costs, {ccy}) at other account sizes, up "
                f"to the minimum NLV for the target; {v.min_nlv.rule}.",
            )
        )
    notes = list(result.notes) + [f"fallback {f.step}: {f.reason}" for f in v.fallbacks]
    if notes:
        sections.append(
            _section("notes", "Notes", [{"type": "list", "id": "notes", "entries": notes}])
        )
    return {
        "title": result.scenario,
        "subtitle": "thetaplan sizing report: integer book, verdict and risk",
        "version": _version(),
        "source": source,
        "verdict": {"status": v.status.value, "sentence": v.message},
        "summary": _scenario_summary(result),
        "sections": sections,
    }
