"""``thetaplan data fetch``: recorded client responses → files the project reads.

The clients are replaced by fakes replaying ``tests/fixtures/fetch`` (built from shipped real data
in the documented client shapes, see its README) and the fetch time is fixed: no network, no
wall clock. References: the fixture files themselves (strikes, quotes), the shipped history files
(byte-for-byte rows) and the SPX close 6939.03 of 2026-01-30 (scenarios/data/README.md).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from models.errors import DataError
from models.market.chain import load_chain
from models.market.fetch import select_expiries, yfinance_chain_frame, yfinance_history_frame
from models.market.fetch_sources import import_client, session_time
from models.market.history import load_index_ohlc, load_vix_history
from optimizer.cli.app import app, main
from optimizer.cli.commands import data as data_cmd

sys.path.insert(0, str(Path(__file__).parent))
from fetch_fakes import FETCH, FakeTicker, FakeYfinance, fake_tastytrade  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios" / "data"
#: 16:30 ET on Friday 2026-01-30: after the close, so the quotes are that session's.
NOW = datetime(2026, 1, 30, 21, 30, tzinfo=UTC)


@pytest.fixture
def fakes(monkeypatch):
    """Recorded clients and the fixed fetch time in place of the libraries and the clock."""
    yf = FakeYfinance()
    monkeypatch.setitem(data_cmd.clients, "yfinance", yf)
    monkeypatch.setitem(data_cmd.clients, "tastytrade", fake_tastytrade())
    monkeypatch.setattr(data_cmd, "clock", lambda: NOW)
    return yf


def run(argv, capsys):
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _fixture_strikes() -> set[float]:
    return {
        float(k) for f in FETCH.glob("yf_spx_*_*s.csv") for k in pd.read_csv(f)["strike"].tolist()
    }


# ----------------------------------------------------------------------------- round trips


def test_chain_fetch_round_trips_into_chain_and_solve(fakes, tmp_path, capsys):
    code, out, err = run(["data", "fetch", "chain", "SPX", "--out-dir", str(tmp_path)], capsys)
    assert code == 0, err
    path = tmp_path / "spx_yfinance_chain_2026-01-30.csv.gz"
    assert f"wrote {path}" in out
    prov = json.loads(path.with_name(path.name + ".provenance.json").read_text())
    assert prov["source"] == "yfinance" and prov["symbol"] == "^SPX"
    assert prov["fetched_at_utc"] == "2026-01-30T21:30:00+00:00"
    assert prov["library"] == "yfinance recorded-fixture"
    assert prov["expiries"] == ["2026-02-20", "2026-03-20"]
    n_fixture = sum(len(pd.read_csv(f)) for f in FETCH.glob("yf_spx_*_*s.csv"))
    assert prov["contracts"] == prov["rows"] == n_fixture

    # `thetaplan chain` reads it with the file's own spot and valuation time
    code, out, err = run(["chain", str(path)], capsys)
    assert code == 0, err
    assert "SPX chain at 2026-01-30 16:00, spot 6,939.03" in out
    chain = load_chain(path)
    assert chain.spot == 6939.03
    assert chain.valuation_time == pd.Timestamp("2026-01-30T16:00")

    # a scenario pointed at the written file solves, with strikes of the fixture
    scenario = {
        "name": "fetched chain",
        "valuation_time": "2026-01-30T16:00:00",
        "account": {"net_liq": 100000, "currency": "GBP", "fx": {"USD": 0.7299}, "phase": 4},
        "market": {"vix": 17.44, "chains": {"SPX": {"path": path.name, "format": "tidy"}}},
        "target": {"monthly_income": 100},
        "income": {"model": "theta"},
        "objective": "max_theta",
        "strategies": {
            "condor": {
                "template": "iron_condor",
                "weight": 1.0,
                "entries_per_month": 1,
                "expiry": {"dte": 45},
                "underlyings": {
                    "SPX": {"grid": {"short_delta": [0.1, 0.15], "wing_width": [50, 100]}}
                },
            }
        },
    }
    sc = tmp_path / "scenario.yaml"
    sc.write_text(yaml.safe_dump(scenario))
    res = CliRunner().invoke(app, ["solve", str(sc), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout[res.stdout.index("{") :])
    assert doc["verdict"]["status"] == "FEASIBLE"
    assert doc["positions"], "the solve chose no position"
    strikes = _fixture_strikes()
    for p in doc["positions"]:
        assert p["expiry"].startswith("2026-03-20")  # the fixture expiry nearest 45 DTE
        legs = [float(re.fullmatch(r"[+-]\d+[CP](\S+)", leg)[1]) for leg in p["strikes"].split()]
        assert legs and set(legs) <= strikes


def test_chain_selection_by_expiry_and_dte(fakes, tmp_path, capsys):
    out1 = tmp_path / "a.csv"
    code, _, err = run(
        ["data", "fetch", "chain", "spx", "--expiries", "2026-03-20", "--out", str(out1)], capsys
    )
    assert code == 0, err
    assert set(pd.read_csv(out1)["expiry"]) == {"2026-03-20T16:00:00"}
    assert [c for c in fakes.calls if c[0] == "option_chain"] == [("option_chain", "2026-03-20")]
    fakes.calls.clear()
    out2 = tmp_path / "b.csv"
    code, _, err = run(
        ["data", "fetch", "chain", "SPX", "--max-dte", "30", "--out", str(out2)], capsys
    )
    assert code == 0, err  # 2026-02-20 is 21 days after 2026-01-30, 2026-03-20 is 49
    assert set(pd.read_csv(out2)["expiry"]) == {"2026-02-20T16:00:00"}
    # the 49-DTE expiry is not even requested
    assert [c for c in fakes.calls if c[0] == "option_chain"] == [("option_chain", "2026-02-20")]


def test_history_fetch_writes_the_shipped_formats(fakes, tmp_path, capsys):
    code, out, err = run(["data", "fetch", "history", "--out-dir", str(tmp_path)], capsys)
    assert code == 0, err
    sp = tmp_path / "sp500_gspc_daily_ohlcv_2023-11-30_2023-12-28.csv.gz"
    vix = tmp_path / "vix_daily_yfinance_2026-06-26_2026-07-23.csv.gz"
    # the rows are the shipped files' rows, character for character (same header, same floats)
    for new, shipped in (
        (sp, "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"),
        (vix, "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"),
    ):
        lines = gzip.decompress(new.read_bytes()).decode().splitlines()
        ref = gzip.decompress((SHIPPED / shipped).read_bytes()).decode().splitlines()
        assert lines[0] == ref[0]
        assert lines[1:] == ref[-20:]
    # and the income model's loaders read them
    assert load_index_ohlc(sp)["close"].iloc[-1] == pytest.approx(4783.35009765625)
    assert load_vix_history(vix).iloc[-1] == pytest.approx(18.70)
    prov = json.loads((tmp_path / (vix.name + ".provenance.json")).read_text())
    assert (prov["symbol"], prov["rows"], prov["first"]) == ("^VIX", 20, "2026-06-26")


def test_tastytrade_chain_round_trips(fakes, tmp_path, capsys):
    code, out, err = run(
        ["data", "fetch", "chain", "/ES", "--source", "tastytrade", "--out-dir", str(tmp_path)],
        capsys,
    )
    assert code == 0, err
    path = tmp_path / "es_tastytrade_chain_2026-01-30.csv.gz"
    chain = load_chain(path)
    assert chain.underlying == "ES"
    assert chain.spot == pytest.approx((6960.0 + 6960.5) / 2)  # /ESH6 mid of the recorded quote
    quotes = json.loads((FETCH / "tt_es_quotes.json").read_text())
    df = pd.read_csv(path)
    assert len(df) == len(quotes) - 1  # every option quoted, the future is the spot
    prov = json.loads(path.with_name(path.name + ".provenance.json").read_text())
    assert (prov["source"], prov["spot_symbol"], prov["quoted"]) == ("tastytrade", "/ESH6", 64)


# ----------------------------------------------------------------------------- bad responses


class _EmptyTicker(FakeTicker):
    @property
    def options(self):
        return ()


class _NoQuotesTicker(FakeTicker):
    def option_chain(self, date):
        return type("OC", (), {"calls": pd.DataFrame(), "puts": pd.DataFrame()})()


class _RateLimitedTicker(FakeTicker):
    def option_chain(self, date):
        raise RuntimeError("Too Many Requests.\nRate limited. Try after a while.")


@pytest.mark.parametrize(
    ("ticker", "message"),
    [
        (_EmptyTicker, "error: yfinance lists no option expiry for ^SPX"),
        (_NoQuotesTicker, "error: SPX: the source returned expiries without any contract"),
        (
            _RateLimitedTicker,
            "error: yfinance ^SPX option_chain(2026-02-20) failed: RuntimeError: Too Many "
            "Requests. Rate limited. Try after a while.",
        ),
    ],
)
def test_bad_chain_response_is_one_line_error(monkeypatch, tmp_path, capsys, ticker, message):
    monkeypatch.setitem(data_cmd.clients, "yfinance", FakeYfinance(ticker))
    monkeypatch.setattr(data_cmd, "clock", lambda: NOW)
    code, out, err = run(["data", "fetch", "chain", "SPX", "--out-dir", str(tmp_path)], capsys)
    assert code == 2
    assert err == message + "\n"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bad_arguments_are_one_line_errors(fakes, tmp_path, capsys):
    for argv, message in (
        (["SPX", "--expiries", "2026-02-27"], "expiries 2026-02-27 are not listed by the source"),
        (["SPX", "--max-dte", "5"], "no expiry left to fetch"),
        (["QQQ"], "yfinance chains: 'QQQ' is not one of SPX, XSP, SPY"),
        (["/ZN", "--source", "tastytrade"], "not one of /ES, /MES, /MGC, /MCL"),
        (["SPX", "--source", "ibkr"], "--source: 'ibkr' is not yfinance or tastytrade"),
    ):
        code, _, err = run(["data", "fetch", "chain", *argv, "--out-dir", str(tmp_path)], capsys)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert message in err


def test_tastytrade_without_quotes_is_an_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(data_cmd.clients, "tastytrade", fake_tastytrade(quotes=[]))
    monkeypatch.setattr(data_cmd, "clock", lambda: NOW)
    argv = ["data", "fetch", "chain", "/ES", "--source", "tastytrade", "--out-dir", str(tmp_path)]
    code, _, err = run(argv, capsys)
    assert (code, err) == (2, "error: ES: no quote received for any of 64 options\n")
    monkeypatch.setitem(data_cmd.clients, "tastytrade", fake_tastytrade(chain={"futures": []}))
    code, _, err = run(argv, capsys)
    assert (code, err) == (2, "error: tastytrade returned no option chain for /ES\n")


def test_empty_and_malformed_frames():
    with pytest.raises(DataError, match="index history response is empty"):
        yfinance_history_frame(pd.DataFrame(), "index")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['Low'\]"):
        yfinance_history_frame(
            pd.DataFrame(
                {"Date": ["2026-01-30"], "Open": [1], "High": [1], "Close": [1], "Volume": [0]}
            ),
            "vix",
        )
    with pytest.raises(DataError, match=r"response lacks column\(s\) \['bid', 'ask'\]"):
        frame = pd.DataFrame(
            {"contractSymbol": ["X"], "strike": [1.0], "volume": [1], "openInterest": [1]}
        )
        yfinance_chain_frame(
            {"2026-02-20": (frame, frame)},
            underlying="SPX",
            spot=1.0,
            valuation_time=datetime(2026, 1, 30, 16),
        )
    good = pd.read_csv(FETCH / "yf_spx_2026-02-20_calls.csv")
    with pytest.raises(DataError, match="underlying price nan is not a positive number"):
        yfinance_chain_frame(
            {"2026-02-20": (good, good)},
            underlying="SPX",
            spot=float("nan"),
            valuation_time=datetime(2026, 1, 30, 16),
        )


def test_missing_library_names_the_extra():
    with pytest.raises(DataError) as exc:
        import_client("thetaplan_no_such_client")
    assert str(exc.value) == (
        "thetaplan_no_such_client is not installed; install the data extra: "
        'pip install -c constraints.txt -e ".[data]"'
    )


def test_session_time_and_expiry_rules():
    # Sat 2026-01-31 12:00 ET -> Friday's close; Fri 11:00 ET -> the fetch time itself
    assert session_time(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)) == datetime(2026, 1, 30, 16)
    assert session_time(datetime(2026, 1, 30, 16, 0, tzinfo=UTC)) == datetime(2026, 1, 30, 11)
    listed = ["2026-01-30", "2026-02-20", "2026-03-20"]
    assert select_expiries(listed, "2026-01-30") == ["2026-02-20", "2026-03-20"]
    assert select_expiries(listed, "2026-01-30", max_dte=21) == ["2026-02-20"]
