"""Option chains: loaders, put-call-parity forwards, quote filtering, IV/Greeks and vol surfaces.

Public API::

    load_chain(path, format="auto", *, underlying=None, spot=None, valuation_time=None, rate=None)
        -> OptionChain
    OptionChain.from_quotes(raw, *, underlying, valuation_time, spot=None, rate=None, ...)
    OptionChain: underlying, valuation_time, spot, quotes, expiries, filter_report, dropped, notes,
        surface(), to_frame(), to_tidy_csv(path), smile_summary()
    SmileSurface (interface), ChainSurface (from a chain), SyntheticSurface / synthetic_surface(...)
    parity_forward(strike, call_price, put_price, t, *, discount_factor=None, n_pairs=12)

Units: prices per share; ``t`` in calendar years (seconds / (365 * 86400)); IV decimal; theta per
calendar day; vega per vol point; rates continuous per year. Times are naive exchange-local.

Sources: Cboe, *VIX White Paper* (forward from put-call parity at the strike with the smallest
call-put difference); J. Gatheral, *The Volatility Surface* (2006) (total-variance interpolation,
calendar-spread condition).
"""

from models.market.chain._time import SECONDS_PER_YEAR, to_timestamp, year_fraction
from models.market.chain.core import (
    EXPIRY_COLUMNS,
    FILTER_REASONS,
    PLACEHOLDER_IV_MAX,
    QUOTE_COLUMNS,
    OptionChain,
)
from models.market.chain.loaders import (
    FORMATS,
    TIDY_COLUMNS,
    cboe_session_time,
    detect_format,
    load_chain,
    read_quotes,
    write_tidy_csv,
)
from models.market.chain.parity import ParityFit, parity_forward
from models.market.chain.surface import (
    ChainSurface,
    SmileSurface,
    SyntheticSurface,
    synthetic_surface,
)

__all__ = [
    "OptionChain",
    "load_chain",
    "read_quotes",
    "detect_format",
    "write_tidy_csv",
    "cboe_session_time",
    "parity_forward",
    "ParityFit",
    "SmileSurface",
    "ChainSurface",
    "SyntheticSurface",
    "synthetic_surface",
    "to_timestamp",
    "year_fraction",
    "SECONDS_PER_YEAR",
    "FORMATS",
    "TIDY_COLUMNS",
    "QUOTE_COLUMNS",
    "EXPIRY_COLUMNS",
    "FILTER_REASONS",
    "PLACEHOLDER_IV_MAX",
]
