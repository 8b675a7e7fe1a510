"""Measure the half-spread table ``models/data/half_spreads.csv`` from the shipped chains.

Plain script (not collected by pytest)::

    .venv/bin/python benchmarks/measure_spreads.py [--check] [--out PATH]

Reads the two chains of ``scenarios/data`` through :func:`models.market.chain.load_chain` (its filters
drop zero-bid, zero-ask and crossed quotes, placeholder IVs and quotes without a parity forward):

* ``spx_yahoo_chain_2026-01-30.csv.gz`` (Yahoo Finance, after the 2026-01-30 close, SPX and SPXW
  roots; spot 6939.03, valuation 2026-01-30 16:00) -> product SPX;
* ``spy_quotedata_2025-05-16.csv.gz`` (Cboe delayed quotes after the 2025-05-16 close) -> SPY;

measures the median ``(ask - bid) / 2`` per DTE bucket, right and ``ln(K/F)`` bucket
(:func:`models.costs.measure_half_spreads`), derives XSP, SPXW, ES and MES from SPX
(:data:`models.costs.DERIVED_SPREADS`), applies the external measurements
(:data:`models.costs.EXTERNAL_SPREADS`) and writes the CSV (:func:`models.costs.half_spread_csv`).
``--check`` compares with the file instead of writing it (exit 1 on a difference).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.costs import build_half_spread_table, half_spread_csv  # noqa: E402
from models.market.chain import load_chain  # noqa: E402

DATA = ROOT / "scenarios" / "data"
OUT = ROOT / "models" / "data" / "half_spreads.csv"
SPX_FILE = "spx_yahoo_chain_2026-01-30.csv.gz"
SPY_FILE = "spy_quotedata_2025-05-16.csv.gz"


def chains() -> list[tuple[str, object, str]]:
    """``(product, chain, source)`` of the shipped chains."""
    spx = load_chain(DATA / SPX_FILE, spot=6939.03, valuation_time="2026-01-30T16:00")
    spy = load_chain(DATA / SPY_FILE)
    return [
        (
            "SPX",
            spx,
            f"measured: scenarios/data/{SPX_FILE} (Yahoo Finance quotes after the 2026-01-30 "
            "close, SPX and SPXW roots)",
        ),
        (
            "SPY",
            spy,
            f"measured: scenarios/data/{SPY_FILE} (Cboe delayed quotes after the 2025-05-16 close)",
        ),
    ]


def table_text() -> str:
    """The CSV text the shipped chains produce."""
    return half_spread_csv(build_half_spread_table(chains()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the file, do not write")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    text = table_text()
    if args.check:
        same = args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'DIFFERS'}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
