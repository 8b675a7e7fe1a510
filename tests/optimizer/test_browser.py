"""The HTML reports in a real browser: headless Chromium at a 1,280 px wide viewport.

Each report kind — the solve report (``thetaplan report``), the monthly tracking report
(``thetaplan track --report``) and the backtest report (``thetaplan backtest --report``) — is
written once per session by the CLI (in process) and opened from disk in Debian's Chromium,
driven by Playwright. The page must not scroll sideways (``document.documentElement.scrollWidth``
≤ the viewport width), no element may be wider than its own box unless that box scrolls
(``overflow-x: auto | scroll``: content in it is reachable, not cut off), every ``<img>`` must be
decoded (``complete`` and ``naturalWidth > 0``, the HTML standard's "completely available"
image), the browser must log no console error and no page error, and no request may leave the
machine (the reports are self-contained). A full-page PNG screenshot of each report goes to
``$THETAPLAN_SCREENSHOTS`` (default ``artifacts/screenshots/``) for CI to keep.

The negative tests feed the same checks small pages with a known defect (an over-wide table,
a broken image, a script error) and assert that each is found.

Chromium is ``/usr/bin/chromium`` (Debian package ``chromium``; ``.ci/run`` installs it). Without
it the tests skip, except when ``THETAPLAN_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then they
fail.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.optimizer.test_report import _run

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: Chromium flags: headless, no sandbox (CI runs as root), nothing fetched in the background.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
MINIMAL_RISK = ROOT / "tests" / "fixtures" / "scenarios" / "minimal_risk.yaml"
LEDGER = ROOT / "tests" / "fixtures" / "ledger"
#: The tracked day whose strategies' P&L nearly cancel (net 94 GBP of 1,756 gross).
TRACK_DAY = "2026-02-13"

#: Problems on the page as the browser laid it out (the body of the checks; ``[]`` = none).
_LAYOUT_JS = """() => {
  const doc = document.documentElement;
  const vw = doc.clientWidth;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  // inside a box that scrolls or clips: judged by that box (a clipping box is "too wide")
  const boxed = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  const out = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > vw + 1 || r.left < -1) && !boxed(el);
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.clientWidth > 0 && !scrolls(el) && el.scrollWidth > el.clientWidth + 1) {
      wide.push(name(el) + ': content ' + el.scrollWidth + ' px in a box of ' + el.clientWidth);
    } else if (out(el) && !out(el.parentElement)) {
      const r = el.getBoundingClientRect();
      wide.push(name(el) + ': spans ' + Math.round(r.left) + '..' + Math.round(r.right)
        + ' px of a ' + vw + ' px viewport');
    }
  }
  const images = Array.from(document.images)
    .filter((im) => !(im.complete && im.naturalWidth > 0))
    .map((im) => (im.id || im.alt || im.src.slice(0, 40)));
  return {
    scroll_width: doc.scrollWidth,
    viewport_width: window.innerWidth,
    wide: wide,
    images: images,
    n_images: document.images.length,
  };
}"""


def _screenshot_dir() -> Path:
    """Where the screenshots go: ``$THETAPLAN_SCREENSHOTS`` or ``artifacts/screenshots/``."""
    folder = Path(os.environ.get("THETAPLAN_SCREENSHOTS") or ROOT / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser():
    """Chromium (``/usr/bin/chromium``) through Playwright, once per session."""
    required = os.environ.get("THETAPLAN_REQUIRE_BROWSER") == "1"
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (Debian package chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            missing = "playwright not installed (the test extra)"
    if missing:
        if required:
            pytest.fail(f"THETAPLAN_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def inspect(browser, url: str, shot: Path | None = None, probe: str | None = None) -> dict:
    """Open ``url`` at 1,280 px and return what the checks found (see the module docstring).

    Returns ``{scroll_width, viewport_width, wide, images, n_images, console, page_errors,
    requests}``: ``wide`` lists the elements whose content is wider than their (non-scrolling)
    box, ``images`` the images not decoded, ``console`` the console errors, ``page_errors`` the
    uncaught exceptions, ``requests`` the blocked network requests, and ``probe`` the value of
    the JavaScript function ``probe`` when given. Saves a full-page screenshot to ``shot`` when
    given.
    """
    context = browser.new_context(viewport=VIEWPORT)
    console, page_errors, requests = [], [], []
    context.route(
        re.compile(r"^(https?|wss?|ftp)://"),
        lambda route: (requests.append(route.request.url), route.abort()),
    )
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        page.goto(url, wait_until="load")
        found = page.evaluate(_LAYOUT_JS)
        found["probe"] = page.evaluate(probe) if probe else None
        if shot is not None:
            page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    return {**found, "console": console, "page_errors": page_errors, "requests": requests}


def assert_clean(found: dict) -> None:
    """Fail with every problem ``inspect`` found."""
    problems = []
    if found["scroll_width"] > found["viewport_width"]:
        problems.append(
            f"the page scrolls sideways: {found['scroll_width']} px > {found['viewport_width']}"
        )
    problems += [f"too wide: {w}" for w in found["wide"]]
    problems += [f"image not loaded: {i}" for i in found["images"]]
    problems += [f"console error: {c}" for c in found["console"]]
    problems += [f"page error: {e}" for e in found["page_errors"]]
    problems += [f"network request: {r}" for r in found["requests"]]
    assert not problems, "\n".join(problems)


def _cli(argv: list[str]) -> None:
    code, _, err = _run(argv)
    assert code in (0, None), err[-2000:]


@pytest.fixture(scope="session")
def solve_report(tmp_path_factory) -> Path:
    """``thetaplan report`` of the minimal risk scenario (12-column positions table, figures)."""
    out = tmp_path_factory.mktemp("browser_solve")
    _cli(["report", str(MINIMAL_RISK), "--set", "target.monthly_income=500", "--out", str(out)])
    return out / "report.html"


@pytest.fixture(scope="session")
def track_report(tmp_path_factory) -> Path:
    """``thetaplan track --report`` of the fixture month on a day its strategies' P&L cancel."""
    folder = tmp_path_factory.mktemp("browser_track")
    db, html = folder / "month.db", folder / "track.html"
    _cli(["ledger", "init", str(db)])
    _cli(["ledger", "import", str(db), str(LEDGER / "month_2026-02.csv")])
    scenario = str(LEDGER / "month_scenario.yaml")
    _cli(
        ["track", str(db), "--scenario", scenario, "--as-of", TRACK_DAY, "--no-replan"]
        + ["--report", str(html)]
    )
    return html


@pytest.fixture(scope="session")
def backtest_report(tmp_path_factory) -> Path:
    """``thetaplan backtest --report``: the one-put scenario of test_backtest over 3 months."""
    from tests.optimizer.test_backtest import _write_put_scenario

    folder = tmp_path_factory.mktemp("browser_bt")
    scenario = _write_put_scenario(folder)
    html = folder / "backtest.html"
    _cli(
        ["backtest", str(scenario), "--from", "2010-01-01", "--to", "2010-04-30"]
        + ["--vix-rule", "sticky_moneyness", "--out", str(folder / "bt.parquet")]
        + ["--report", str(html), "--no-progress"]
    )
    return html


#: Line boxes of each expiry cell of the positions table (a Range's client rects, one per line).
_EXPIRY_LINES_JS = """() => Array.from(
  document.querySelectorAll('#positions tbody tr td:nth-child(3)'),
  (td) => { const r = document.createRange(); r.selectNodeContents(td);
            return [td.textContent.trim(), r.getClientRects().length]; })"""


@pytest.mark.parametrize("kind", ["solve_report", "track_report", "backtest_report"])
def test_report_renders_cleanly_at_1280px(kind, browser, request):
    path = request.getfixturevalue(kind)
    probe = _EXPIRY_LINES_JS if kind == "solve_report" else None
    found = inspect(browser, path.as_uri(), _screenshot_dir() / f"{kind}.png", probe)
    assert found["viewport_width"] == 1280
    assert found["n_images"] >= 2  # every report embeds its figures
    assert_clean(found)
    if kind == "solve_report":  # the positions table's expiry cells read on one line each
        assert [t for t, _ in found["probe"]] == ["0DTE (5.5h to close)", "2026-04-30 (90 DTE)"]
        assert [n for _, n in found["probe"]] == [1, 1]


# ----------------------------------------------------------------------------- the checks work
def _page(tmp_path: Path, body: str) -> str:
    path = tmp_path / "page.html"
    path.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>'
        f"<body style='max-width:1100px;margin:auto'>{body}</body></html>",
        encoding="utf-8",
    )
    return path.as_uri()


#: A table of 14 columns of 120 px: 1,680 px of content in a body of at most 1,100 px.
WIDE_TABLE = "<table id='wide'><tr>" + "<td style='min-width:120px'>x</td>" * 14 + "</tr></table>"
#: A 1x1 transparent PNG (67 bytes), valid.
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def test_checks_find_an_over_wide_table(browser, tmp_path):
    found = inspect(browser, _page(tmp_path, WIDE_TABLE))
    assert found["scroll_width"] > 1280
    assert len(found["wide"]) == 1 and re.fullmatch(
        r"table#wide: spans \d+\.\.(\d+) px of a 1280 px viewport", found["wide"][0]
    ), found["wide"]
    with pytest.raises(AssertionError, match="scrolls sideways"):
        assert_clean(found)


def test_checks_accept_the_same_table_in_a_scrolling_box(browser, tmp_path):
    found = inspect(browser, _page(tmp_path, f"<div style='overflow-x:auto'>{WIDE_TABLE}</div>"))
    assert found["scroll_width"] == 1280 and found["wide"] == []
    assert_clean(found)


def test_checks_find_content_cut_off_by_its_box(browser, tmp_path):
    body = f"<div id='clip' style='overflow:hidden;width:600px'>{WIDE_TABLE}</div>"
    found = inspect(browser, _page(tmp_path, body))
    assert found["scroll_width"] == 1280  # the page itself does not scroll …
    # … but the table is cut: 14 cells of at least 120 px in a 600 px box
    assert len(found["wide"]) == 1, found["wide"]
    m = re.fullmatch(r"div#clip: content (\d+) px in a box of 600", found["wide"][0])
    assert m and int(m.group(1)) >= 14 * 120


def test_checks_find_a_broken_image_and_script_errors(browser, tmp_path):
    body = (
        f"<img id='ok' src='data:image/png;base64,{PIXEL}'>"
        "<img id='broken' src='data:image/png;base64,iVBORw0KGgoAAAA='>"
        "<script>console.error('boom'); undefinedFunction();</script>"
    )
    found = inspect(browser, _page(tmp_path, body))
    assert found["n_images"] == 2 and found["images"] == ["broken"]
    assert found["console"] == ["boom"]
    assert len(found["page_errors"]) == 1 and "undefinedFunction" in found["page_errors"][0]
    with pytest.raises(AssertionError, match="image not loaded: broken"):
        assert_clean(found)


def test_checks_block_and_report_network_requests(browser, tmp_path):
    found = inspect(
        browser, _page(tmp_path, "<img id='remote' src='http://example.invalid/x.png'>")
    )
    assert found["requests"] == ["http://example.invalid/x.png"]
    assert found["images"] == ["remote"]
