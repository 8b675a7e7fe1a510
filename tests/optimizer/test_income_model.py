"""The scenario's income model wiring (optimizer.inputs.income_model).

References: correlations of the simulated months (S&P products share one path set), the
measured WTI beta recomputed by OLS, the lognormal option's label, and the scenario errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.errors import SpecError
from models.market.history import load_index_ohlc, load_wti_history
from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import prepare

ROOT = Path(__file__).resolve().parents[2]
TK = ROOT / "scenarios" / "tom_king"
DATA = ROOT / "scenarios" / "data"


@pytest.fixture(scope="module")
def phase4():
    return prepare(load_scenario(TK / "phase4.yaml"))


def _col(prep, prefix: str) -> np.ndarray:
    ids = list(prep.income.ids)
    k = next(i for i, c in enumerate(ids) if c.startswith(prefix))
    return np.asarray(prep.income.result.monthly_samples)[:, k]


def test_sp500_products_share_one_path_set(phase4):
    """An SPX and an XSP 0DTE condor, and ES and MES LT112s, move together month by month
    (common random numbers); in the LT112's worst 5% of months the SPX condor loses more than on
    average (coincident losses), while a gold strangle is nearly independent."""
    spx, xsp = _col(phase4, "zero_dte:SPX"), _col(phase4, "zero_dte:XSP")
    es, mes = _col(phase4, "lt112:ES"), _col(phase4, "lt112:MES")
    gold = _col(phase4, "strangle:MGC")
    assert np.corrcoef(es, mes)[0, 1] > 0.999  # same structure, a tenth of the size
    assert np.corrcoef(spx, xsp)[0, 1] > 0.9
    worst = es <= np.quantile(es, 0.05)
    assert spx[worst].mean() < spx.mean() - 2 * spx.std() / np.sqrt(worst.sum())
    assert abs(np.corrcoef(es, gold)[0, 1]) < 0.2


def test_wti_beta_is_measured_from_the_shipped_history():
    """history: wti — beta and correlation to the S&P 500 by OLS on daily log returns 1990-2019."""
    from models.measure.physical import wti_residuals

    wti = load_wti_history(DATA / "wti_spot_fred_DCOILWTICO_1986-2019.csv.gz")
    close = load_index_ohlc(DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz")["close"]
    w = wti_residuals(wti, close)
    # log returns between consecutive dates both series have (holidays differ)
    both = np.log(wti).to_frame("w").join(np.log(close).rename("s"), how="inner")
    both = both.loc["1990-01-02":].diff().dropna()
    beta = np.cov(both["w"], both["s"])[0, 1] / np.var(both["s"], ddof=1)
    assert w.beta == pytest.approx(beta, rel=1e-9)
    assert w.corr == pytest.approx(np.corrcoef(both["w"], both["s"])[0, 1], rel=1e-9)


def test_lognormal_measure_is_labelled_light_tailed():
    sc = load_scenario(TK / "phase4.yaml", ["income.measure=lognormal", "income.paths=20"])
    prep = prepare(sc)
    assert prep.income.measure.startswith("lognormal (light-tailed)")
    assert any("lognormal (light-tailed)" in n for n in prep.notes)


def test_expiry_model_is_rejected_with_the_rule_that_replaces_it():
    with pytest.raises(SpecError) as err:
        load_scenario(TK / "phase4.yaml", ["income.model=expiry"])
    assert "income.model" in str(err.value) and "management rule" in str(err.value)


def test_costs_disabled_gives_gross_equal_net():
    sc = load_scenario(TK / "phase4.yaml", ["costs.enabled=false", "income.paths=20"])
    t = prepare(sc).candidates.table
    chain = t["template"] != "fixed"
    np.testing.assert_allclose(
        t.loc[chain, "expected_monthly_income_per_contract"],
        t.loc[chain, "expected_monthly_income_gross_per_contract"],
    )
    assert (t.loc[chain, "costs_per_month_per_contract"] == 0).all()


def test_liquidity_filter_excludes_wide_quotes_with_a_reason():
    sc = load_scenario(TK / "phase4.yaml", ["costs.max_rel_spread=0.05", "income.paths=20"])
    prep = prepare(sc)
    ex = prep.candidates.excluded
    wide = ex[ex["reason"].str.contains("(ask-bid)/mid", regex=False)]
    assert len(wide) > 0
    assert not set(wide["id"]) & set(prep.candidates.ids)
