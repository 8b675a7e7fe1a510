"""Fake data clients replaying the recorded-shape responses of ``tests/fixtures/fetch``.

``FakeYfinance`` stands in for the ``yfinance`` module (``Ticker(sym)`` with ``options``,
``option_chain(date)`` and ``history(...)``); :func:`fake_tastytrade` builds the
:class:`~models.market.fetch_sources.TastytradeSources` of the recorded /ES chain and quotes.
No network: every answer is read from the fixture files.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from models.market.fetch_sources import TastytradeSources

FETCH = Path(__file__).resolve().parents[1] / "fixtures" / "fetch"
_HISTORY = {
    "^SPX": "yf_spx_history.csv",
    "^GSPC": "yf_gspc_history.csv",
    "^VIX": "yf_vix_history.csv",
}


def _history(name: str) -> pd.DataFrame:
    df = pd.read_csv(FETCH / name)
    idx = pd.to_datetime(df.pop("Date"), utc=True).dt.tz_convert("America/New_York")
    return df.set_index(pd.DatetimeIndex(idx, name="Date"))


class FakeTicker:
    """``yfinance.Ticker`` replaying the fixtures (only ^SPX has options)."""

    def __init__(self, symbol: str, calls: list | None = None):
        self.symbol = symbol
        self.calls = calls if calls is not None else []

    @property
    def options(self) -> tuple[str, ...]:
        if self.symbol != "^SPX":
            return ()
        return tuple(json.loads((FETCH / "yf_spx_options.json").read_text())["options"])

    def option_chain(self, date: str):
        self.calls.append(("option_chain", date))
        frames = {}
        for side in ("calls", "puts"):
            df = pd.read_csv(FETCH / f"yf_spx_{date}_{side}.csv")
            df["lastTradeDate"] = pd.to_datetime(df["lastTradeDate"], utc=True)
            frames[side] = df
        return SimpleNamespace(underlying={}, **frames)

    def history(self, **kwargs) -> pd.DataFrame:
        self.calls.append(("history", kwargs))
        return _history(_HISTORY[self.symbol]) if self.symbol in _HISTORY else pd.DataFrame()


class FakeYfinance:
    """Module-like stand-in for ``yfinance``: ``Ticker`` and ``__version__``."""

    __version__ = "recorded-fixture"

    def __init__(self, ticker=FakeTicker):
        self.calls: list = []
        self._ticker = ticker

    def Ticker(self, symbol: str):  # noqa: N802 - yfinance's name
        return self._ticker(symbol, self.calls)


def fake_tastytrade(quotes: list | None = None, chain: dict | None = None) -> TastytradeSources:
    """Recorded /ES nested chain and DXLink quotes (or the given replacements)."""
    nested = (
        chain if chain is not None else json.loads((FETCH / "tt_es_nested_chain.json").read_text())
    )
    recorded = (
        quotes if quotes is not None else json.loads((FETCH / "tt_es_quotes.json").read_text())
    )
    return TastytradeSources(
        chain=lambda symbol: nested, quotes=lambda symbols: recorded, version="recorded-fixture"
    )
