"""``thetaplan report``: the HTML holds the result's numbers, every table and every image.

Each report is written by the CLI (in process) and read back with the standard library's
``html.parser``; the numbers are compared with a separate ``solve_scenario`` of the same
scenario (prepare cache cleared) or recomputed from the positions, and every embedded image is
decoded with PIL.
"""

from __future__ import annotations

import base64
import io
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from models.errors import SpecError
from optimizer.cli.app import main
from optimizer.cli.commands import report as report_mod
from optimizer.formatting import relaxation_text
from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import clear_cache, solve_scenario
from optimizer.studies.phases import curve_nlvs

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "scenarios"
MINIMAL_RISK = FIX / "minimal_risk.yaml"


# ----------------------------------------------------------------------------- HTML reading
class Report(HTMLParser):
    """Tables (by id: caption, header, rows of cell text), images, figures, cards, verdict."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, dict] = {}
        self.images: list[str] = []
        self.figures: list[str] = []
        self.cards: dict[str, str] = {}
        self.scripts = 0
        self.links: list[str] = []
        self.verdict = ""
        self._table: dict | None = None
        self._where: str | None = None  # caption | th | td | card-label | card-value | verdict
        self._buf: list[str] = []
        self._row: list[str] | None = None
        self._label = ""
        self._verdict_depth = 0
        self._in_head = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "script":
            self.scripts += 1
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "figure":
            self.figures.append(a.get("id", ""))
        if tag in ("thead", "tbody"):
            self._in_head = tag == "thead"
        if tag == "table":
            self._table = {"caption": "", "header": [], "rows": []}
            self.tables[a["id"]] = self._table
        elif tag == "caption":
            self._start("caption")
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._table is not None:
            self._start(tag)
        elif tag == "br" and self._where == "td":
            self._buf.append("\x00")
        elif tag == "div" and cls == "label":
            self._start("card-label")
        elif tag == "div" and cls == "value":
            self._start("card-value")
        elif tag == "div" and a.get("id") == "verdict":
            self._start("verdict")
            self._verdict_depth = 1
        elif tag == "div" and self._verdict_depth:
            self._verdict_depth += 1

    def _start(self, where):
        self._where, self._buf = where, []

    def handle_data(self, data):
        if self._where is not None:
            self._buf.append(data)

    def handle_endtag(self, tag):
        lines = "".join(self._buf).split("\x00")  # <br> in a cell: one line each
        text = "\n".join(" ".join(line.split()) for line in lines)
        if tag == "caption" and self._where == "caption":
            self._table["caption"] = text
            self._where = None
        elif tag in ("td", "th") and self._where == tag:
            self._row.append(text)
            self._where = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self._table["header"] = self._row
            else:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "div" and self._where == "card-label":
            self._label, self._where = text, None
        elif tag == "div" and self._where == "card-value":
            self.cards[self._label] = text
            self._where = None
        elif tag == "div" and self._verdict_depth:
            self._verdict_depth -= 1
            if self._verdict_depth == 0:
                self.verdict, self._where = text, None


def _num(text: str) -> float:
    """``"1,234 GBP"`` / ``"-563"`` / ``"41.8%"`` → float (a percentage as a fraction)."""
    t = text.split()[0].replace(",", "")
    return float(t[:-1]) / 100 if t.endswith("%") else float(t)


def _png_ok(src: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    data = base64.b64decode(src[len(prefix) :], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.format == "PNG"
        return im.size


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        with pytest.raises(SystemExit) as exc:
            main(argv)
    finally:
        sys.stdout, sys.stderr = old
    return exc.value.code, out.getvalue(), err.getvalue()


def _self_contained(doc: Report, html: str) -> None:
    assert doc.scripts == 0
    assert not [h for h in doc.links if h.startswith(("http:", "https:", "//"))]
    assert 'src="http' not in html and "@import" not in html
    for src in doc.images:
        w, h = _png_ok(src)
        assert w > 100 and h > 100


# ----------------------------------------------------------------------------- scenario
SCENARIO_SETS = ["target.monthly_income=500"]


@pytest.fixture(scope="module")
def scenario_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "new_folder"  # created by the command
    code, stdout, err = _run(
        ["report", str(MINIMAL_RISK), "--set", SCENARIO_SETS[0], "--out", str(out)]
    )
    assert code == 0, err
    clear_cache()
    ref = solve_scenario(load_scenario(MINIMAL_RISK, SCENARIO_SETS))
    html = (out / "report.html").read_text("utf-8")
    return out, stdout, err, html, Report(html), ref


def test_scenario_report_written_whole(scenario_report):
    out, stdout, err, html, doc, ref = scenario_report
    assert [p.name for p in out.iterdir()] == ["report.html"]  # no temporary file left
    assert stdout == "" and f"wrote: {out / 'report.html'}" in err
    _self_contained(doc, html)
    # the income-vs-NLV curve up to the minimum NLV, when one was found
    assert ref.verdict.min_nlv.value is not None
    assert doc.figures == ["monthly-pnl-figure", "income-vs-nlv"] and len(doc.images) == 2


def test_scenario_report_summary_and_verdict(scenario_report):
    *_, doc, ref = scenario_report
    v = ref.verdict
    assert doc.verdict.startswith(f"Verdict: {v.status.value}")
    assert " ".join(v.message.split()) in doc.verdict
    assert v.status.value == "INFEASIBLE"  # this scenario exercises the relaxation tables
    assert _num(doc.cards["max achievable income / month"]) == round(v.max_income)
    assert _num(doc.cards["achievement (max / target)"]) == pytest.approx(
        round(v.achievement, 3), abs=1e-9
    )
    assert _num(doc.cards["chosen book income / month, in sample"]) == round(v.chosen_income)
    p = doc.cards["P(month ≥ target), out of sample"]
    assert p.startswith(f"{v.success_probability:.2%}")
    lo, hi = v.success_probability_ci
    assert f"{lo:.2%}–{hi:.2%}" in p
    assert _num(doc.cards["minimum account for the target"]) == round(v.min_nlv.value)


def test_scenario_report_positions_and_portfolio(scenario_report):
    *_, doc, ref = scenario_report
    pos = doc.tables["positions"]
    assert "Positions" in pos["caption"] and len(pos["header"]) == 12
    assert len(pos["rows"]) == len(ref.positions) > 0
    h = pos["header"]
    by_legs = {r[h.index("legs (qty right strike)")]: r for r in pos["rows"]}
    for _, r in ref.positions.iterrows():
        row = by_legs[r["strikes"]]
        assert int(row[h.index("qty")]) == r["contracts"]
        assert row[h.index("strategy")] == r["strategy"]
        assert _num(row[h.index("net income / month")]) == pytest.approx(
            r["expected_monthly_income"], abs=0.005
        )
        assert _num(row[h.index("BP / contract")]) == round(r["bp_per_contract"])
    # the portfolio's cost line: gross − costs = net, each equal to the book's figures
    # recomputed from the positions (contracts × per-contract figures)
    pf = {r[0]: r[1] for r in doc.tables["portfolio"]["rows"]}
    n = ref.positions["contracts"].to_numpy()
    gross = float(ref.positions["expected_monthly_income_gross_per_contract"].to_numpy() @ n)
    net = float(ref.positions["expected_monthly_income_per_contract"].to_numpy() @ n)
    costs = ref.portfolio["costs_per_month"]
    assert _num(pf["expected monthly income, gross (before costs)"]) == round(gross)
    assert _num(pf["− costs per month"]) == round(costs["total"])
    assert _num(pf["= expected monthly income, net"]) == round(net)
    assert abs(round(gross) - round(costs["total"]) - round(net)) <= 1
    parts = ("commissions and fees", "bid-ask spread", "stop slippage", "FX conversion")
    keys = ("commissions", "spread", "slippage", "fx")
    for label, key in zip(parts, keys, strict=True):
        assert _num(pf[f"costs: {label}"]) == round(costs[key])
    assert _num(pf["buying power used, share of NLV"]) == pytest.approx(
        round(ref.portfolio["bp_used_pct"], 3)
    )
    assert int(pf["contracts"]) == n.sum() and int(pf["positions"]) == len(n)
    assert len(doc.tables["allocation"]["rows"]) == len(ref.allocation)


def test_scenario_report_risk_tables(scenario_report):
    *_, doc, ref = scenario_report
    p = ref.portfolio
    tail = doc.tables["tail-risk"]["rows"]
    assert len(tail) == len(p["var"]["by_confidence"])
    for row, r in zip(tail, p["var"]["by_confidence"], strict=True):
        assert _num(row[0]) == pytest.approx(r["confidence"])
        assert [_num(c) for c in row[1:]] == [
            round(r[k])
            for k in ("var_in_sample", "cvar_in_sample", "var_out_of_sample", "cvar_out_of_sample")
        ]
    assert len(doc.tables["monthly-risk"]["rows"]) == len(p["monthly_var"]["by_confidence"])
    st = doc.tables["stresses"]["rows"]
    assert [r[0] for r in st] == [d["name"] for d in ref.stress]
    assert [_num(r[1]) for r in st] == [round(d["loss"]) for d in ref.stress]
    wr = doc.tables["win-rates"]["rows"]
    assert [r[0] for r in wr] == [w["strategy"] for w in ref.win_rates]
    assert [_num(r[1]) for r in wr] == [round(w["win_rate"], 3) for w in ref.win_rates]


def test_scenario_report_caps_tables(scenario_report):
    *_, doc, ref = scenario_report
    v = ref.verdict
    mr = doc.tables["minimal-relaxation"]["rows"]
    assert len(mr) == len(v.minimal_relaxation) > 0
    assert [r[0] for r in mr] == [s.cap for s in v.minimal_relaxation]
    assert [r[4] for r in mr] == [relaxation_text(s) for s in v.minimal_relaxation]
    rel = doc.tables["relaxations"]["rows"]
    assert len(rel) == len(v.relaxations)
    assert [_num(r[1]) for r in rel] == [round(r.max_income) for r in v.relaxations]
    assert len(doc.tables["binding"]["rows"]) == len(v.binding)


# ----------------------------------------------------------------------------- cases study
CASES = """\
name: "two targets"
description: "minimal risk at two targets"
base: {base}
overrides: {{target.success_probability: null}}
cases:
  - {{name: "Target 100", overrides: {{target.monthly_income: 100}}}}
  - {{name: "Target 500 at 60k", overrides: {{target.monthly_income: 500, account.net_liq: 60000}}}}
solve: {{diagnostics: full, min_nlv: true}}
"""
CASE_SETS = [
    ["target.success_probability=null", "target.monthly_income=100"],
    ["target.success_probability=null", "target.monthly_income=500", "account.net_liq=60000"],
]


def test_cases_report_phase_table_and_plots(tmp_path):
    study = tmp_path / "two.yaml"
    study.write_text(CASES.format(base=MINIMAL_RISK))
    code, _, err = _run(["report", str(study), "--out", str(tmp_path / "out")])
    assert code == 0, err
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    doc = Report(html)
    _self_contained(doc, html)
    assert doc.figures == ["phase-bars", "income-vs-nlv"] and len(doc.images) == 2
    clear_cache()
    refs = [solve_scenario(load_scenario(MINIMAL_RISK, s)) for s in CASE_SETS]
    t = doc.tables["phases"]
    assert len(t["rows"]) == 2
    h = t["header"]
    for row, name, ref in zip(t["rows"], ["Target 100", "Target 500 at 60k"], refs, strict=True):
        v = ref.verdict
        assert row[h.index("case")] == name
        assert _num(row[h.index("NLV")]) == ref.portfolio["net_liq"]
        assert _num(row[h.index("max income / month")]) == round(v.max_income)
        assert _num(row[h.index("chosen income / month")]) == round(v.chosen_income)
        assert row[h.index("verdict")] == v.status.value
        assert _num(row[h.index("minimum NLV")]) == round(v.min_nlv.value)
        steps = [relaxation_text(s) for s in v.minimal_relaxation]
        assert row[h.index("joint minimal relaxation")].split("\n") == (steps or ["not needed"])
    assert [r.verdict.status.value for r in refs] == ["FEASIBLE", "INFEASIBLE"]
    # the curves' table: 12 account sizes per case, and up to the minimum NLV when one was
    # found (with its certificate's 0.99× point); at 1× it is the verdict's max income
    curve = doc.tables["income-vs-nlv-table"]["rows"]
    sizes = {
        name: curve_nlvs(ref.portfolio["net_liq"], ref.verdict.min_nlv.value)
        for name, ref in zip(["Target 100", "Target 500 at 60k"], refs, strict=True)
    }
    assert len(curve) == sum(len(v) for v in sizes.values())
    for name, ref in zip(["Target 100", "Target 500 at 60k"], refs, strict=True):
        mine = [r for r in curve if r[0] == name]
        assert len(mine) == len(sizes[name]) >= 12
        assert [_num(r[1]) for r in mine] == [round(x) for x in sizes[name]]
        at_one = [r for r in mine if r[2] == "1×"]
        assert len(at_one) == 1 and _num(at_one[0][3]) == round(ref.verdict.max_income)
        assert _num(at_one[0][1]) == ref.portfolio["net_liq"]
        incomes = [_num(r[3]) for r in mine]
        assert incomes == sorted(incomes)  # more account, never less income


# ----------------------------------------------------------------------------- grid study
#: sweep_small.yaml's settings with its axes written in decreasing order: the report sorts them
GRID = """\
name: "minimal risk — VIX × NLV, axes unsorted"
base: {base}
overrides:
  target.success_probability: null
  income.paths: 12
  risk.out_of_sample.n: 1000
grid:
  mode: product
  axes:
    market.vix: [20, 15]
    account.net_liq: [100000, 50000]
"""


def test_grid_report_sorted_table_and_heatmap(tmp_path):
    study = tmp_path / "grid.yaml"
    study.write_text(GRID.format(base=MINIMAL_RISK))
    code, _, err = _run(["report", str(study), "--out", str(tmp_path)])
    assert code == 0, err
    html = (tmp_path / "report.html").read_text("utf-8")
    doc = Report(html)
    _self_contained(doc, html)
    assert doc.figures == ["heatmap"] and len(doc.images) == 1
    t = doc.tables["sweep"]
    h = t["header"]
    assert h[:2] == ["market.vix", "account.net_liq"]
    keys = [(_num(r[0]), _num(r[1])) for r in t["rows"]]
    assert keys == [(15, 50_000), (15, 100_000), (20, 50_000), (20, 100_000)]
    # two points against separate solves of the base scenario with the point's values
    base = [
        "target.success_probability=null",
        "income.paths=12",
        "risk.out_of_sample.n=1000",
        "market.vix_rule=proportional",
    ]
    clear_cache()
    for i in (0, 3):
        vix, nlv = keys[i]
        ref = solve_scenario(
            load_scenario(MINIMAL_RISK, [*base, f"market.vix={vix:g}", f"account.net_liq={nlv:g}"]),
            min_nlv_search=False,
            diagnostics_level="light",
        )
        row = t["rows"][i]
        assert row[h.index("verdict")] == ref.verdict.status.value
        assert _num(row[h.index("max income / month")]) == round(ref.verdict.max_income)
        assert _num(row[h.index("chosen income / month")]) == round(ref.verdict.chosen_income)
        assert _num(row[h.index("achievement")]) == pytest.approx(
            round(ref.verdict.achievement, 3), abs=1e-9
        )


# ----------------------------------------------------------------------------- failures
def _no_solve(*a, **k):  # pragma: no cover - reached only when a check is missing
    raise AssertionError("solved before --out was checked")


def test_out_is_checked_before_solving(tmp_path, monkeypatch):
    afile = tmp_path / "file"
    afile.write_text("x")
    monkeypatch.setattr("optimizer.pipeline.solve_scenario", _no_solve)
    for out, msg in ((afile, "is a file"), (tmp_path / "no" / "dir", "does not exist")):
        code, stdout, err = _run(["report", str(MINIMAL_RISK), "--out", str(out)])
        assert code == 2 and stdout == ""
        assert len(err.strip().splitlines()) == 1 and "--out" in err and msg in err


def test_failed_solve_leaves_nothing(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise SpecError("risk: simulated failure")

    monkeypatch.setattr("optimizer.pipeline.solve_scenario", boom)
    out = tmp_path / "out"
    code, _, err = _run(["report", str(MINIMAL_RISK), "--out", str(out)])
    assert code == 2 and "simulated failure" in err
    assert not out.exists()


def test_write_report_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "fresh"
    target = report_mod.write_report("<html>one</html>", out)
    assert target.read_text() == "<html>one</html>"

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    import optimizer.outputs as cli_io  # the report is written by cli_io.atomic_write

    monkeypatch.setattr(cli_io.os, "replace", fail)
    with pytest.raises(SpecError, match="--out: cannot write .*No space left"):
        report_mod.write_report("<html>two</html>", out)
    assert target.read_text() == "<html>one</html>"  # the old report is intact
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]  # no temporary file
    new = tmp_path / "never"
    with pytest.raises(SpecError):
        report_mod.write_report("<html/>", new)
    assert not new.exists()  # the folder this call created is removed again


def test_render_html_escapes_text():
    doc = {
        "title": "<b>x</b>",
        "subtitle": "s",
        "version": "v",
        "source": "f",
        "verdict": None,
        "summary": [],
        "sections": [
            {
                "id": "s",
                "title": "t",
                "intro": [],
                "blocks": [
                    report_mod._table("t1", "c", [("a", False)], [["<script>alert(1)</script>"]])
                ],
            }
        ],
    }
    html = report_mod.render_html(doc)
    parsed = Report(html)
    assert parsed.scripts == 0 and "&lt;script&gt;" in html
    assert parsed.tables["t1"]["rows"] == [["<script>alert(1)</script>"]]


def test_histogram_caption_says_which_sample_each_income_is(scenario_report):
    """The histogram's mean (fresh months) and the tables' income (in sample) are told apart."""
    *_, html, doc, ref = scenario_report
    fig = html[html.index('<figure id="monthly-pnl-figure">') :]
    caption = fig[fig.index("<figcaption>") + 12 : fig.index("</figcaption>")]
    assert "(out of sample: months the optimizer did not see)" in caption
    assert "(in sample: the income model&#39;s months the book was sized on" in caption
    assert "chosen book income / month, in sample" in doc.cards
