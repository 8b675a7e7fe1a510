"""``thetaplan backtest SCENARIO``: the plan re-sized every month and walked through history.

Each 21-trading-day month of the window is sized by the optimizer at the month's VIX and NLV,
its book run on what happened next by the income model's engine, and the model's forecast of
the month kept beside it (:mod:`optimizer.studies.backtest`). Writes the month table (Parquet,
``--out``), prints the summary, the forecast's calibration and a PUT-index comparison (text or
``--json``), and can write an HTML report and PNG figures. Months are checkpointed as they finish
(``<out>.parts/``, ``--resume``) and run in process or on Dask (``--workers N`` /
``--scheduler``); every flag and output path is checked before the first month is solved.
"""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "backtest_report"]


def _payload(st, sc, df, opts, out: Path, seconds: float) -> dict[str, Any]:
    from optimizer.studies.backtest import month_starts, path_history
    from optimizer.studies.backtest_stats import calibration, put_comparison, summary

    target, ccy = float(sc.target.monthly_income), sc.account.currency
    hist = path_history(sc)
    months = month_starts(hist, df["month"].iloc[0], df["month_end"].dropna().iloc[-1])
    put = put_comparison(hist, months)
    put_months = put.pop("months")
    return {
        "scenario": sc.name,
        "window": {
            "first_month": str(df["month"].iloc[0]),
            "last_month_end": str(df["month_end"].dropna().iloc[-1]),
            "months": int(len(df)),
        },
        "options": {
            "nlv": opts.nlv,
            "vix_rule": st.vix_rule,
            "model_window": opts.model_window,
            "diagnostics": opts.diagnostics,
        },
        "currency": ccy,
        "target_monthly": target,
        "summary": summary(df, target),
        "calibration": calibration(df),
        "put_comparison": put,
        "out": str(out),
        "seconds": seconds,
    }, put_months


def _figures(df, payload, put_months, title: str):
    from optimizer.plots.backtest import equity_drawdown, pit_histogram, reliability

    cal = payload["calibration"]
    ks = cal.get("pit", {}).get("ks_pvalue")
    return {
        "equity": equity_drawdown(df, put_months, ccy=payload["currency"], title=title),
        "pit": pit_histogram(df["pit"].to_numpy(dtype=float), ks_pvalue=ks),
        "reliability": reliability(cal, df),
    }


def _fmt(v: Any) -> str:
    from optimizer.formatting import fmt

    if isinstance(v, float):
        return fmt(v, ".4g") if abs(v) < 10 else fmt(v, ",.0f")
    return str(v)


def backtest_report(df, payload: dict, figures: dict) -> str:
    """The backtest as one self-contained HTML page (figures embedded as PNG)."""
    from optimizer.plots import png_bytes

    s = payload["summary"]
    cal = payload["calibration"]
    put = payload["put_comparison"]
    e = html.escape

    def kv(d: dict) -> str:
        rows = "".join(
            f"<tr><th>{e(str(k))}</th><td>{e(_fmt(v))}</td></tr>"
            for k, v in d.items()
            if not isinstance(v, list | dict)
        )
        return f"<table>{rows}</table>"

    def img(fig) -> str:
        data = base64.b64encode(png_bytes(fig)).decode()
        return f'<img alt="figure" src="data:image/png;base64,{data}">'

    import pandas as pd

    cov = pd.DataFrame(cal.get("coverage", []))
    years = pd.DataFrame(s.get("by_year", []))
    regimes = pd.DataFrame(s.get("by_vix_regime", []))
    cols = [
        "month",
        "nlv",
        "vix",
        "positions",
        "contracts",
        "income_expected",
        "income_realized",
        "costs",
        "pit",
        "q05",
        "q50",
        "q95",
        "p_target",
        "drawdown",
        "status",
        "error",
    ]
    table = df[cols].to_html(index=False, float_format=lambda v: f"{v:,.2f}", na_rep="")
    put_rows = pd.DataFrame(
        [
            {"series": "PUT construction, backtest window", **put["backtest_window"]},
            {"series": "PUT construction, 2006-06..2018-12", **put["2006_2018"]},
            {"series": put["published"]["source"], **put["published"]},
        ]
    ).drop(columns=["source"], errors="ignore")
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:12px;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "img{max-width:100%;height:auto}.wide{overflow-x:auto;max-height:500px}"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Backtest: {e(payload["scenario"])}</title><style>{style}</style></head><body>
<h1>Backtest: {e(payload["scenario"])}</h1>
<p>{e(payload["window"]["first_month"])} .. {e(payload["window"]["last_month_end"])},
{payload["window"]["months"]} months of 21 trading days; NLV {e(payload["options"]["nlv"])},
smiles moved by {e(payload["options"]["vix_rule"])}, income model history
{e(payload["options"]["model_window"])}. Money in {e(payload["currency"])}, net of costs.</p>
<h2>Summary</h2>{kv(s)}
{img(figures["equity"])}
<h2>By year</h2>{years.to_html(index=False, float_format=lambda v: f"{v:,.3f}")}
<h2>By VIX regime at the month's start</h2>
{regimes.to_html(index=False, float_format=lambda v: f"{v:,.3f}")}
<h2>Forecast calibration</h2>
<p>{cal.get("months", 0)} months with a book. PIT: {kv(cal.get("pit", {}))}</p>
<p>P(month ≥ target): {kv(cal.get("target", {}))}</p>
{cov.to_html(index=False, float_format=lambda v: f"{v:,.3f}") if len(cov) else ""}
{img(figures["pit"])}{img(figures["reliability"])}
<h2>Monthly ATM cash-secured put (Cboe PUT construction)</h2>
<p>{e(put["construction"])}</p>
{put_rows.to_html(index=False, float_format=lambda v: f"{v:,.4f}")}
<h2>Months</h2><div class="wide">{table}</div>
</body></html>
"""


def _print_text(payload: dict, written: list[Path]) -> None:
    from rich.console import Console
    from rich.markup import escape

    from optimizer.formatting import fmt

    c = Console()
    s, cal, put = payload["summary"], payload["calibration"], payload["put_comparison"]
    ccy = payload["currency"]
    w = payload["window"]
    c.print(
        f"[bold]{escape(payload['scenario'])}[/]: {w['months']} months "
        f"{w['first_month']} .. {w['last_month_end']} ({payload['seconds']:,.0f} s)",
        highlight=False,
        soft_wrap=True,
    )
    if s.get("months", 0) and "annual_return" in s:
        c.print(
            f"net return on NLV {s['annual_return']:.2%}/year (compounded "
            f"{s['annual_return_compounded']:.2%}), monthly SD {s['monthly_sd']:.2%}, max "
            f"drawdown {s['max_drawdown']:.1%}; months with a book "
            f"{s.get('months_with_a_book', 0):.0%}, at target {s.get('months_at_target', 0):.1%}",
            highlight=False,
            soft_wrap=True,
        )
        wm = s.get("worst_month")
        if wm:
            c.print(
                f"worst month {wm['month']}: {wm['income']:,.0f} {ccy} ({wm['return']:.1%}, "
                f"VIX {wm['vix']:.1f})",
                highlight=False,
            )
    if s.get("failed"):
        c.print(f"[red]{s['failed']} months failed[/] (see the table's error column)")
    if cal.get("months"):
        pit = cal["pit"]
        tgt = cal["target"]
        cover = ", ".join(f"{x['level']:.0%}→{x['observed']:.0%}" for x in cal["coverage"])
        c.print(
            f"calibration ({cal['months']} months): quantile coverage {cover}; PIT KS p "
            f"{fmt(pit['ks_pvalue'], '.3g')}, chi² p {fmt(pit['chi2_pvalue'], '.3g')}, lag-1 autocorr "
            f"{fmt(pit['lag1_autocorrelation'], '.3f')}; P(target) forecast "
            f"{tgt['mean_forecast_probability']:.1%} vs realized {tgt['realized_frequency']:.1%}, "
            f"Brier {tgt['brier_score']:.4f}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        c.print(f"calibration: {cal.get('note', 'no months')}", highlight=False)
    bw = put["backtest_window"]
    if bw.get("months"):
        c.print(
            f"monthly ATM cash-secured put, same months: {bw['annual_return']:.2%}/year, SD "
            f"{bw['annual_sd']:.2%}, max drawdown {bw['max_drawdown_compounded']:.1%} (published "
            f"PUT 2006-2018: {put['published']['annual_return']:.2%}, SD "
            f"{put['published']['annual_sd']:.2%}, max drawdown "
            f"{put['published']['max_drawdown']:.1%})",
            highlight=False,
            soft_wrap=True,
        )
    for p in written:
        c.print(f"wrote: {escape(str(p))}", highlight=False, soft_wrap=True)


def _check_flags(scenario, nlv, vix_rule, model_window, start, end, out, report, plots) -> Path:
    """Every flag and output path checked before the first month; returns the table's path."""
    import datetime as dt

    from models.errors import SpecError
    from optimizer.outputs import check_output_path

    if nlv not in ("fixed", "compound"):
        raise SpecError(f"--nlv: expected fixed or compound, got {nlv!r}")
    if vix_rule not in (None, "proportional", "sticky_moneyness"):
        raise SpecError(f"--vix-rule: expected proportional or sticky_moneyness, got {vix_rule!r}")
    if model_window not in ("full", "expanding"):
        raise SpecError(f"--model-window: expected full or expanding, got {model_window!r}")
    for flag, value in (("--from", start), ("--to", end)):
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise SpecError(f"{flag}: expected an ISO date YYYY-MM-DD, got {value!r}") from None
    target = out if out is not None else Path(f"{scenario.stem}_backtest.parquet")
    check_output_path(target, "--out")
    if report is not None:
        check_output_path(report, "--report")
    if plots is not None:
        if plots.exists() and not plots.is_dir():
            raise SpecError(f"--plots: {plots} exists and is not a folder")
        plots.mkdir(parents=True, exist_ok=True)
    return target


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` command to ``app``."""

    @app.command("backtest")
    def backtest_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        start: Annotated[
            str | None,
            typer.Option("--from", help="First month on or after this date (ISO, YYYY-MM-DD)."),
        ] = None,
        end: Annotated[
            str | None,
            typer.Option("--to", help="Last month ends on or before this date (ISO)."),
        ] = None,
        index_history: Annotated[
            Path | None,
            typer.Option(
                "--index-history",
                help="S&P 500 daily OHLC CSV (the shipped file's columns); default: the "
                "scenario's market.history.index.",
            ),
        ] = None,
        vix_history: Annotated[
            Path | None,
            typer.Option(
                "--vix-history",
                help="VIX daily CSV (DATE, CLOSE); default: the scenario's market.history.vix.",
            ),
        ] = None,
        nlv: Annotated[
            str,
            typer.Option(
                "--nlv",
                help="fixed: the scenario's NLV every month (months in parallel); compound: "
                "last month's NLV plus its income (months in order).",
            ),
        ] = "fixed",
        vix_rule: Annotated[
            str | None,
            typer.Option(
                "--vix-rule",
                help="How the smiles move to a month's VIX: proportional or sticky_moneyness "
                "(default: the scenario's market.vix_rule, else proportional).",
            ),
        ] = None,
        model_window: Annotated[
            str,
            typer.Option(
                "--model-window",
                help="full: the income model's history as the scenario says; expanding: only "
                "the days up to each month's start.",
            ),
        ] = "full",
        overrides: Annotated[
            list[str] | None,
            typer.Option("--set", help="Override a scenario field: dotted.path=value."),
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option("--workers", help="Run months on a local Dask cluster of N processes."),
        ] = None,
        scheduler: Annotated[
            str | None,
            typer.Option("--scheduler", help="Run months on an existing Dask cluster."),
        ] = None,
        resume: Annotated[
            bool,
            typer.Option("--resume", help="Continue from the checkpoints in <out>.parts/."),
        ] = False,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Month table (Parquet); default <scenario>_backtest.parquet."
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the summary as one JSON document.")
        ] = False,
        report: Annotated[
            Path | None, typer.Option("--report", help="Write an HTML report.")
        ] = None,
        plots: Annotated[
            Path | None,
            typer.Option(
                "--plots",
                help="Folder for the PNG figures (equity/drawdown, PIT histogram, reliability).",
            ),
        ] = None,
        no_progress: Annotated[
            bool, typer.Option("--no-progress", help="No progress bar.")
        ] = False,
    ) -> None:
        """Re-size SCENARIO every month of history and walk it; forecast vs realized."""
        from optimizer.outputs import atomic_write
        from optimizer.studies.backtest import BacktestOptions, backtest_study, run_backtest

        t0 = time.perf_counter()
        target = _check_flags(
            scenario,
            nlv,
            vix_rule,
            model_window,
            start,
            end,
            out,
            report,
            plots,
        )
        opts = BacktestOptions(nlv=nlv, vix_rule=vix_rule, model_window=model_window)
        st = backtest_study(
            scenario,
            sets=list(overrides or []),
            start=start,
            end=end,
            index_history=index_history,
            vix_history=vix_history,
            options=opts,
        )
        df = run_backtest(
            st,
            out=target,
            nlv=nlv,
            workers=workers,
            scheduler=scheduler,
            resume=resume,
            progress=not no_progress,
        )
        from optimizer.studies.study import case_scenario

        sc = case_scenario(st, 0)  # the first month's scenario (target, currency, history)
        payload, put_months = _payload(st, sc, df, opts, target, time.perf_counter() - t0)
        written = [target]
        if report is not None or plots is not None:
            figs = _figures(df, payload, put_months, sc.name)
            if plots is not None:
                for name, fig in figs.items():
                    p = plots / f"backtest_{name}.png"
                    fig.savefig(p, dpi=120)
                    written.append(p)
            if report is not None:
                text = backtest_report(df, payload, figs)
                atomic_write(report, lambda p: Path(p).write_text(text, encoding="utf-8"))
                written.append(report)
        if as_json:
            from optimizer.verdict.result import jsonable

            print(json.dumps(jsonable(payload), indent=1, allow_nan=False))
        else:
            _print_text(payload, written)
