"""The whole fuzz matrix: every file kind of :mod:`tests.fuzz.cases` with its command, plus
``--set`` overrides, flag values, ledger files, histories and margin-position specifics."""

from __future__ import annotations

from functools import cache

import yaml

from tests.fuzz.cases import (
    AUDIT,
    CHAIN_CBOE,
    CHAIN_TIDY,
    CHAIN_YF,
    INDEX_HISTORY,
    LEDGER_IB,
    LEDGER_TP,
    POSITION,
    SCENARIO,
    SCENARIO_ARGV,
    SCENARIO_NAME,
    SCENARIO_RISK,
    STUDY,
    VIX_HISTORY,
    Case,
    Special,
    _dump,
    csv_cases,
    generic_file_mutations,
    yaml_cases,
)

SCEN = ((SCENARIO_NAME, SCENARIO.encode()),)
LEDGER = ("l.db", Special("ledger"))
YF_TIME = ("--valuation-time", "2025-03-07T16:00")


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


def _set_cases() -> list[Case]:
    values = {
        "no_equals": "account.net_liq",
        "empty_path": "=5",
        "empty": "",
        "unknown_top": "zz=1",
        "unknown_nested": "account.net_liqq=1",
        "through_scalar": "account.net_liq.x=1",
        "bool": "account.net_liq=true",
        "str": "account.net_liq=abc",
        "nan": "account.net_liq=.nan",
        "inf": "account.net_liq=.inf",
        "1e308": "account.net_liq=1e308",
        "neg": "account.net_liq=-1",
        "zero": "account.net_liq=0",
        "hugeint": "account.net_liq=" + "9" * 5000,
        "list": "account.net_liq=[1, 2]",
        "map": "account=5",
        "invalid_yaml": "account.net_liq=[1,",
        "deep": "name=" + "[" * 5000 + "]" * 5000,
        "alias_bomb": "name={a: &a [x,x,x,x,x,x,x,x,x], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], "
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], "
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]}",
        "ctrl_name": "name=a\x1b[31mb",
        "newline_name": "name=a\nb",
        "long_value": "name=" + "x" * 2_000_000,
        "bad_date": "valuation_time=2026-02-30",
        "bad_time": "valuation_time=2026-01-30T25:00",
        "weight_bool": "strategies.zero_dte.weight=yes",
        "grid_str": "strategies.zero_dte.underlyings.SPX.grid.short_delta=abc",
        "grid_empty": "strategies.zero_dte.underlyings.SPX.grid.short_delta=[]",
        "unknown_template": "strategies.zero_dte.template=nope",
        "unknown_currency": "account.currency=XXX",
        "vix_neg": "market.vix=-5",
        "dte_neg": "strategies.strangle.expiry.dte=-3",
        "chain_missing": "market.chains.SPX.path=/nonexistent/chain.csv",
        "chain_dir": "market.chains.SPX.path=/",
        "chain_format": "market.chains.SPX.format=nope",
        "phase_big": "account.phase=99",
        "index_path": "strategies.zero_dte.underlyings.SPX.grid.short_delta.0=0.2",
    }
    return [
        Case(f"set.{k}", "set", SCEN, (*SCENARIO_ARGV, "--set", v), "scenario")
        for k, v in values.items()
    ]


def _flag_cases() -> list[Case]:
    tidy = (("c.csv", CHAIN_TIDY.encode()),)
    yf = (("c.csv", CHAIN_YF.encode()),)
    tp = (LEDGER, ("t.csv", LEDGER_TP.encode()))
    track = (*SCEN, LEDGER)
    study = (("st.yaml", STUDY.encode()), ("minimal_risk.yaml", SCENARIO_RISK.encode()))
    sweep = ("sweep", "st.yaml", "--out", "o.parquet", "--no-progress")
    bt = ("backtest", SCENARIO_NAME, "--out", "b.parquet", "--no-progress")
    cal = ("calibrate", "--paths", "100", "--replay-paths", "100")
    out: dict[str, tuple[tuple, tuple]] = {}
    for k, v in {
        "text": "yesterday",
        "bad_day": "2026-02-30",
        "bad_month": "2026-13-01",
        "empty": "",
        "ctrl": "2026-01-05\x00",
        "long": "2" * 100_000,
        "year_0": "0000-01-01",
        "year_99999": "99999-01-01",
    }.items():
        out[f"track.as_of.{k}"] = (
            track,
            ("track", "l.db", "--scenario", SCENARIO_NAME, "--as-of", v, "--no-replan"),
        )
        out[f"backtest.from.{k}"] = (SCEN, (*bt, "--from", v))
        out[f"backtest.to.{k}"] = (SCEN, (*bt, "--to", v))
        out[f"calibrate.from.{k}"] = ((), (*cal, "--from", v))
        out[f"chain.valuation_time.{k}"] = (yf, ("chain", "c.csv", "--valuation-time", v))
    for k, v in {"zero": "0", "neg": "-2", "text": "two", "huge": "9" * 30, "float": "1.5"}.items():
        out[f"sweep.workers.{k}"] = (study, (*sweep, "--workers", v))
        out[f"backtest.workers.{k}"] = (SCEN, (*bt, "--workers", v))
    for k, v in {
        "no_scheme": "localhost",
        "bad_port": "tcp://127.0.0.1:99999",
        "empty": "",
        "text": "not a url",
        "with_workers": "tcp://127.0.0.1:1",
    }.items():
        extra = ("--workers", "2") if k == "with_workers" else ()
        out[f"sweep.scheduler.{k}"] = (study, (*sweep, "--scheduler", v, *extra))
        out[f"backtest.scheduler.{k}"] = (SCEN, (*bt, "--scheduler", v, *extra))
    for k, v in {
        "nan": "nan",
        "inf": "inf",
        "neg": "-1",
        "zero": "0",
        "text": "x",
        "1e308": "1e308",
    }.items():
        out[f"chain.spot.{k}"] = (tidy, ("chain", "c.csv", "--spot", v))
        out[f"chain.rate.{k}"] = (tidy, ("chain", "c.csv", "--rate", v))
        out[f"calibrate.mean_block.{k}"] = ((), (*cal, "--mean-block", v))
    for k, v in {"zero": "0", "neg": "-5", "huge": "9" * 30, "text": "x"}.items():
        out[f"calibrate.paths.{k}"] = ((), ("calibrate", "--paths", v))
        out[f"calibrate.replay_paths.{k}"] = ((), ("calibrate", "--replay-paths", v))
        out[f"frontier.points.{k}"] = (SCEN, ("frontier", SCENARIO_NAME, "--points", v))
        out[f"audit.paths.{k}"] = ((("a.yaml", AUDIT.encode()),), ("audit", "a.yaml", "--paths", v))
    out["calibrate.seed.neg"] = ((), (*cal, "--seed", "-1"))
    out["calibrate.seed.huge"] = ((), (*cal, "--seed", "9" * 30))
    out["audit.seed.neg"] = ((("a.yaml", AUDIT.encode()),), ("audit", "a.yaml", "--seed", "-1"))
    out["audit.seed.huge"] = (
        (("a.yaml", AUDIT.encode()),),
        ("audit", "a.yaml", "--seed", "9" * 30),
    )
    out["calibrate.from_after_to"] = ((), (*cal, "--from", "2020-01-01", "--to", "2019-01-01"))
    out["backtest.from_after_to"] = (SCEN, (*bt, "--from", "2020-01-01", "--to", "2019-01-01"))
    out["backtest.from_before_history"] = (
        SCEN,
        (*bt, "--from", "1800-01-01", "--to", "1800-12-31"),
    )
    for k, v in {"nlv": "variable", "vix_rule": "sticky", "model_window": "rolling"}.items():
        out[f"backtest.{k}.unknown"] = (SCEN, (*bt, f"--{k.replace('_', '-')}", v))
    out["frontier.cap.unknown"] = (SCEN, ("frontier", SCENARIO_NAME, "--cap", "var"))
    out["solve.backend.unknown"] = (SCEN, (*SCENARIO_ARGV, "--backend", "gurobi"))
    out["chain.format.unknown"] = (tidy, ("chain", "c.csv", "--format", "xlsx"))
    out["chain.format.wrong"] = (tidy, ("chain", "c.csv", "--format", "cboe"))
    out["chain.yfinance_without_time"] = (yf, ("chain", "c.csv"))
    out["chain.underlying.ctrl"] = (tidy, ("chain", "c.csv", "--underlying", "S\x1bY"))
    out["chain.output.dir"] = (tidy, ("chain", "c.csv", "--output", "/"))
    out["chain.output.no_parent"] = (tidy, ("chain", "c.csv", "--output", "nodir/x/y.csv"))
    out["ledger.format.unknown"] = (tp, ("ledger", "import", "l.db", "t.csv", "--format", "csv"))
    out["ledger.format.empty"] = (tp, ("ledger", "import", "l.db", "t.csv", "--format", ""))
    out["ledger.init.exists"] = ((LEDGER,), ("ledger", "init", "l.db"))
    out["ledger.init.dir"] = ((), ("ledger", "init", "/"))
    out["ledger.init.no_parent"] = ((), ("ledger", "init", "nodir/x/l.db"))
    out["track.report.bad_ext"] = (
        track,
        ("track", "l.db", "--scenario", SCENARIO_NAME, "--report", "r.pdf"),
    )
    out["track.no_ledger"] = (
        SCEN,
        ("track", "nope.db", "--scenario", SCENARIO_NAME, "--no-replan"),
    )
    out["track.write_scenario_no_replan"] = (
        track,
        ("track", "l.db", "--scenario", SCENARIO_NAME, "--no-replan", "--write-scenario", "w.yaml"),
    )
    out["solve.candidates_out.dir"] = (SCEN, (*SCENARIO_ARGV, "--candidates-out", "/"))
    out["solve.plot.bad_ext"] = (SCEN, (*SCENARIO_ARGV, "--plot", "p.xyz"))
    out["report.out.file"] = ((*SCEN, ("f.txt", b"x")), ("report", SCENARIO_NAME, "--out", "f.txt"))
    out["schema.kind.unknown"] = ((), ("schema", "trades"))
    out["schema.kind.empty"] = ((), ("schema", ""))
    out["init.exists"] = (SCEN, ("init", SCENARIO_NAME))
    out["init.dir"] = ((), ("init", "/"))
    out["unknown_command"] = ((), ("solvee", SCENARIO_NAME))
    out["unknown_option"] = (SCEN, ("solve", SCENARIO_NAME, "--jsn"))
    return [Case(f"flag.{k}", "flag", files, argv) for k, (files, argv) in out.items()]


def _ledger_file_cases() -> list[Case]:
    """The SQLite ledger itself replaced by garbage, for ``ledger import`` and ``track``."""
    out = []
    for mid, data in {
        "text": b"not a database\n",
        "empty": b"",
        "binary": bytes(range(256)) * 64,
        "sqlite_other": Special("sqlite_other"),
        "directory": Special("dir"),
        "fifo": Special("fifo"),
        "missing": Special("missing"),
    }.items():
        out.append(
            Case(
                f"ledger_db.import.{mid}",
                "ledger_db",
                (("l.db", data), ("t.csv", LEDGER_TP.encode())),
                ("ledger", "import", "l.db", "t.csv"),
            )
        )
        out.append(
            Case(
                f"ledger_db.track.{mid}",
                "ledger_db",
                (("l.db", data), *SCEN),
                (
                    "track",
                    "l.db",
                    "--scenario",
                    SCENARIO_NAME,
                    "--no-replan",
                    "--as-of",
                    "2026-01-20",
                ),
            )
        )
    return out


def _history_cases() -> list[Case]:
    out = []
    for which, base in (("index", INDEX_HISTORY), ("vix", VIX_HISTORY)):
        muts = generic_file_mutations(f"history-{which}", base.encode(), yaml_kind=False)
        muts["gzip_bomb"] = Special("gzip_bomb", 300_000_000)
        muts["gzip_truncated"] = _gzip(base.encode())[:40]
        muts["no_close_column"] = base.replace("Close", "Kloze").replace("CLOSE", "KLOZE").encode()
        muts["all_bad_values"] = "\n".join([base.splitlines()[0]] + ["x,y,z,w,v,u,t"] * 5).encode()
        for mid, data in muts.items():
            out.append(
                Case(
                    f"history.{which}.{mid}",
                    "history",
                    (("h.csv", data),),
                    (
                        "calibrate",
                        f"--{which}-history",
                        "h.csv",
                        "--paths",
                        "100",
                        "--replay-paths",
                        "100",
                    ),
                )
            )
    return out


def _position_cases() -> list[Case]:
    doc = yaml.safe_load(POSITION)
    cases = yaml_cases("position", POSITION, "p.yaml", ("margin", "p.yaml"), numeric_limit=7)
    leg_values = {
        "right=X": ("right", "X"),
        "right=none": ("right", None),
        "side=sideways": ("side", "sideways"),
        "expiry=bad": ("expiry", "2025-02-30"),
        "expiry=text": ("expiry", "soon"),
        "expiry=expired": ("expiry", "2020-01-17"),
        "expiry=far": ("expiry", "2999-01-01"),
        "strike=1e13": ("strike", 1e13),
        "quantity=1.5": ("quantity", 1.5),
        "quantity=1e9": ("quantity", 10**9),
    }
    for mid, (key, value) in leg_values.items():
        d = yaml.safe_load(POSITION)
        d["legs"][0][key] = value
        cases.append(
            Case(f"position.leg0.{mid}", "position", (("p.yaml", _dump(d)),), ("margin", "p.yaml"))
        )
    for mid, legs in {
        "legs_empty": [],
        "legs_null": None,
        "legs_scalar": 5,
        "legs_41": [doc["legs"][0]] * 41,
    }.items():
        d = dict(doc, legs=legs)
        cases.append(
            Case(f"position.{mid}", "position", (("p.yaml", _dump(d)),), ("margin", "p.yaml"))
        )
    for mid, extra in {
        "underlying_empty": {"underlying": ""},
        "underlying_ctrl": {"underlying": "S\x1bX"},
        "valuation_bad": {"valuation_time": "2025-13-01"},
        "margin_class_bad": {"margin_class": "nope"},
        "multiplier_zero": {"multiplier": 0},
    }.items():
        cases.append(
            Case(
                f"position.{mid}",
                "position",
                (("p.yaml", _dump({**doc, **extra})),),
                ("margin", "p.yaml"),
            )
        )
    for other, text in (("scenario", SCENARIO), ("study", STUDY), ("audit", AUDIT)):
        cases.append(
            Case(
                f"position.wrong_kind_{other}",
                "position",
                (("p.yaml", text.encode()),),
                ("margin", "p.yaml"),
            )
        )
    return cases


def _chain_cases() -> list[Case]:
    cases: list[Case] = []
    cols = ("strike", "bid", "ask", "expiry", "right", "spot", "valuation_time", "underlying")
    cases += csv_cases("chain_tidy", CHAIN_TIDY, "c.csv", ("chain", "c.csv"), columns=cols)
    yf_cols = (
        "strike",
        "bid",
        "ask",
        "expiration",
        "option_type",
        "contractSymbol",
        "impliedVolatility",
    )
    cases += csv_cases(
        "chain_yfinance", CHAIN_YF, "c.csv", ("chain", "c.csv", *YF_TIME), columns=yf_cols
    )
    cb_cols = ("Expiration Date", "Strike", "Bid", "Ask", "Calls")
    cases += csv_cases(
        "chain_cboe",
        CHAIN_CBOE,
        "c.csv",
        ("chain", "c.csv"),
        columns=cb_cols,
        header_row=3,
        cell_mutations=("empty", "text", "nan", "inf", "neg", "1e308", "baddate"),
    )
    gz = _gzip(CHAIN_TIDY.encode())
    for mid, data in {
        "valid": gz,
        "truncated": gz[: len(gz) // 2],
        "header_only": gz[:10],
        "garbage_after_magic": b"\x1f\x8b" + bytes(range(200)),
        "gzip_of_binary": _gzip(bytes(range(256)) * 16),
        "gzip_of_utf16": _gzip(CHAIN_TIDY.encode("utf-16")),
        "double_gzip": _gzip(gz),
        "bomb": Special("gzip_bomb", 250_000_000),
    }.items():
        cases.append(
            Case(f"chain_gzip.{mid}", "chain_gzip", (("c.csv.gz", data),), ("chain", "c.csv.gz"))
        )
    return cases


@cache
def all_cases() -> tuple[Case, ...]:
    """Every case of the matrix, in a fixed order (ids unique)."""
    study_files = (("minimal_risk.yaml", SCENARIO_RISK.encode()),)
    sweep = ("sweep", "st.yaml", "--out", "o.parquet", "--no-progress")
    cases: list[Case] = []
    cases += yaml_cases("scenario", SCENARIO, SCENARIO_NAME, SCENARIO_ARGV)
    cases += yaml_cases("study", STUDY, "st.yaml", sweep, study_files)
    cases += [
        Case(
            f"study.phases.{c.id.split('.', 1)[1]}",
            "study",
            c.files,
            ("phases", "st.yaml"),
            c.loader,
        )
        for c in yaml_cases("study", STUDY, "st.yaml", sweep, study_files)
        if ".file." in f".{c.id}"
    ][:8]
    cases += yaml_cases(
        "audit", AUDIT, "a.yaml", ("audit", "a.yaml", "--paths", "10"), numeric_limit=6
    )
    cases += _position_cases()
    tp_cols = (
        "trade_id",
        "event",
        "timestamp",
        "contracts",
        "price",
        "multiplier",
        "fx_to_account",
        "fees",
        "legs",
    )
    cases += csv_cases(
        "ledger_tp",
        LEDGER_TP,
        "t.csv",
        ("ledger", "import", "l.db", "t.csv"),
        (LEDGER,),
        columns=tp_cols,
    )
    ib_cols = (
        "IBOrderID",
        "DateTime",
        "Put/Call",
        "Strike",
        "Expiry",
        "Quantity",
        "TradePrice",
        "Multiplier",
        "FXRateToBase",
        "Open/CloseIndicator",
    )
    cases += csv_cases(
        "ledger_ibkr",
        LEDGER_IB,
        "t.csv",
        ("ledger", "import", "l.db", "t.csv", "--format", "ibkr", "--strategy", "s"),
        (LEDGER,),
        columns=ib_cols,
    )
    cases += _ledger_file_cases()
    cases += _chain_cases()
    cases += _history_cases()
    cases += _set_cases()
    cases += _flag_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    return tuple(cases)
