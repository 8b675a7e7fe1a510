"""Deterministic generator of malformed inputs for every file kind and flag the CLI reads.

A :class:`Case` is the files to write (bytes, or a :class:`Special` such as a FIFO), the argv to
run in their folder and, for the YAML kinds whose valid run is a full solve or Monte Carlo, the
loader that validates an accepted case instead of the command (:data:`LOADERS`). The valid base
files are the test fixtures (``tests/fixtures``) and the shipped audit file; every mutation is a
pure function of them, so :func:`all_cases` returns the same list on every run.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
DATA = ROOT / "scenarios" / "data"


@dataclass(frozen=True)
class Special:
    """A path that is not a plain file: ``fifo``, ``dir``, ``missing``, ``sparse`` (``size``
    bytes of zeros), ``gzip_bomb`` (``size`` bytes of zeros, gzip) or ``ledger`` (a new ledger)."""

    what: str
    size: int = 0


@dataclass(frozen=True)
class Case:
    """One CLI invocation on generated files (see the module docstring)."""

    id: str
    kind: str
    files: tuple[tuple[str, object], ...]
    argv: tuple[str, ...]
    loader: str | None = None


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


SCENARIO = _text(FIX / "scenarios" / "minimal.yaml").replace("../../../scenarios/data/", f"{DATA}/")
SCENARIO_RISK = _text(FIX / "scenarios" / "minimal_risk.yaml").replace(
    "../../../scenarios/data/", f"{DATA}/"
)
STUDY = _text(FIX / "scenarios" / "sweep_small.yaml")
AUDIT = _text(ROOT / "scenarios" / "quantai" / "capital_scenarios.yaml").replace(
    "../data/", f"{DATA}/"
)
POSITION = _text(FIX / "positions" / "spx_iron_condor.yaml")
LEDGER_TP = _text(FIX / "ledger" / "trades.csv")
LEDGER_IB = _text(FIX / "ledger" / "ibkr_trades.csv")
CHAIN_CBOE = _text(FIX / "chains" / "cboe_small.csv")
CHAIN_YF = _text(FIX / "chains" / "yfinance_small.csv")
CHAIN_TIDY = _text(FIX / "chains" / "tidy_small.csv")
VIX_HISTORY = "DATE,OPEN,HIGH,LOW,CLOSE\n" + "".join(
    f"01/{d:02d}/2020,15,16,14,{15 + d / 10:.2f}\n" for d in range(2, 30)
)
INDEX_HISTORY = "Date,Open,High,Low,Close,Adj Close,Volume\n" + "".join(
    f"2020-01-{d:02d},3200,3210,3190,{3200 + d},{3200 + d},1000\n" for d in range(2, 30)
)

#: Loader that validates an accepted case of a kind whose valid run is expensive.
LOADERS = {"scenario": "scenario", "set": "scenario", "study": "study", "audit": "audit"}

#: Replacement values for a numeric field (YAML-level): name -> value.
#: Each field (column) gets every ``STRIDE``-th mutation of a class, starting at its own
#: position: every mutation still meets every file kind, at a third of the cases.
STRIDE = 3


def rotated(mutations: dict, j: int) -> list[tuple[str, object]]:
    """The mutations of field ``j``: every :data:`STRIDE`-th item, offset by ``j``."""
    items = list(mutations.items())
    return [it for i, it in enumerate(items) if (i + j) % STRIDE == 0]


NUMERIC_MUTATIONS: dict[str, object] = {
    "bool": True,
    "str": "abc",
    "list": [1],
    "map": {"a": 1},
    "null": None,
    "nan": float("nan"),
    "inf": float("inf"),
    "neginf": float("-inf"),
    "1e308": 1e308,
    "hugeint": 10**30,
    "neg": -1,
    "zero": 0,
}

SCENARIO_NAME = "s.yaml"
SCENARIO_ARGV = ("solve", SCENARIO_NAME, "--no-min-nlv")


# ----------------------------------------------------------------------------- helpers


def _leaves(obj, path=()):
    """(path, value) of every scalar leaf, depth first, in document order."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    else:
        yield path, obj


def _mappings(obj, path=()):
    """Path of every mapping (the document's root first)."""
    if isinstance(obj, dict):
        yield path
        for k, v in obj.items():
            yield from _mappings(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _mappings(v, (*path, i))


def _set(doc, path, value):
    out = copy.deepcopy(doc)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _delete(doc, path):
    out = copy.deepcopy(doc)
    node = out
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return out


def _dump(doc) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000).encode()


def _pid(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def generic_file_mutations(kind: str, valid: bytes, *, yaml_kind: bool) -> dict[str, object]:
    """File-level mutations of a valid file: name -> bytes or :class:`Special`."""
    rnd = random.Random(f"fuzz-{kind}")
    text = valid.decode()
    lines = text.splitlines(keepends=True)
    mid = len(lines) // 2
    out: dict[str, object] = {
        "empty": b"",
        "blank": b"\n \n\t\n",
        "binary": bytes(rnd.randrange(256) for _ in range(4096)),
        "nul_bytes": b"\x00" * 256,
        "utf16": text.encode("utf-16"),
        "utf16be_nobom": text.encode("utf-16-be"),
        "utf8_bom": b"\xef\xbb\xbf" + valid,
        "crlf": text.replace("\n", "\r\n").encode(),
        "latin1": ("".join(lines[:mid]) + "# caf\xe9\n" + "".join(lines[mid:])).encode(
            "latin-1", "replace"
        )
        if yaml_kind
        else (lines[0] + "caf\xe9" + "".join(lines[1:])).encode("latin-1", "replace"),
        "truncated_third": valid[: len(valid) // 3],
        "truncated_half": valid[: len(valid) // 2],
        "truncated_last_byte": valid[:-2],
        "fifo": Special("fifo"),
        "directory": Special("dir"),
        "missing": Special("missing"),
        "sparse_60mb": Special("sparse", 60_000_000),
        "long_line_2mb": valid + b"x" * 2_000_000 + b"\n",
        "control_chars": text.replace("\n", "\x07\x1b[31m\x00\n", 1).encode(),
    }
    if yaml_kind:
        out.update(
            {
                "comment_only": b"# nothing here\n",
                "top_list": b"- 1\n- 2\n",
                "top_scalar": b"42\n",
                "top_null": b"~\n",
                "tab_indent": text.replace("\n  ", "\n\t", 1).encode(),
                "unclosed_flow": b"a: [1, 2\n",
                "unclosed_quote": b"a: 'abc\n",
                "deep_nesting": b"a: " + b"[" * 1000 + b"]" * 1000 + b"\n",
                "alias_bomb": _ALIAS_BOMB.encode(),
                "huge_int_text": b"a: " + b"9" * 5000 + b"\n",
                "two_documents": valid + b"---\n" + valid,
                "python_tag": b"a: !!python/object/apply:os.system ['true']\n",
                "dup_first_key": lines[0].encode() + valid,
            }
        )
    else:
        out.update(
            {
                "header_only": lines[0].encode(),
                "dup_rows": valid + "".join(lines[1:]).encode(),
                "long_field_200k": (lines[0] + "x" * 200_000 + "\n").encode(),
                "unclosed_quote": (lines[0] + '"abc,def\n' + "".join(lines[1:])).encode(),
                "semicolon_sep": text.replace(",", ";").encode(),
            }
        )
    return out


# ----------------------------------------------------------------------------- YAML kinds


def yaml_cases(
    kind: str,
    base: str,
    name: str,
    argv: tuple[str, ...],
    extra_files: tuple[tuple[str, object], ...] = (),
    *,
    numeric_limit: int | None = None,
) -> list[Case]:
    """Generic, per-numeric-field, missing-key, unknown-key and duplicate-key mutations."""
    doc = yaml.safe_load(base)
    loader = LOADERS.get(kind)
    cases: list[Case] = []

    def add(cid: str, data: object) -> None:
        cases.append(Case(f"{kind}.{cid}", kind, ((name, data), *extra_files), argv, loader))

    for mid, data in generic_file_mutations(kind, base.encode(), yaml_kind=True).items():
        add(f"file.{mid}", data)
    numeric = [(p, v) for p, v in _leaves(doc) if _is_number(v)]
    for j, (path, _) in enumerate(numeric[:numeric_limit]):
        for mid, value in rotated(NUMERIC_MUTATIONS, j):
            add(f"{_pid(path)}={mid}", _dump(_set(doc, path, value)))
    for path in _mappings(doc):
        node = doc
        for p in path:
            node = node[p]
        first = next(iter(node), None)
        if first is None:
            continue
        add(f"{_pid(path)}.unknown_key", _dump(_set(doc, (*path, "zz_unknown"), 1)))
        if isinstance(first, str):
            add(f"{_pid((*path, first))}.missing", _dump(_delete(doc, (*path, first))))
            typo = first[:-1] + ("x" if first[-1] != "x" else "y")
            renamed = {(typo if k == first else k): v for k, v in node.items()}
            add(
                f"{_pid((*path, first))}.misspelt",
                _dump(_set(doc, path, renamed) if path else renamed),
            )
    # a repeated key, text-level, on every top-level line that opens a key
    for i, line in enumerate(base.splitlines(keepends=True)):
        if line[:1].isalpha() and ":" in line and not line.rstrip().endswith(":"):
            add(f"line{i + 1}.duplicate_key", (base + line).encode())
    return cases


# ----------------------------------------------------------------------------- CSV kinds


def _csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))


def _csv_text(rows: list[list[str]]) -> bytes:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


#: Replacement cell values for CSV mutation: name -> value.
CELL_MUTATIONS = {
    "empty": "",
    "text": "abc",
    "nan": "nan",
    "inf": "inf",
    "neg": "-5",
    "1e308": "1e308",
    "hugeint": "9" * 40,
    "baddate": "2026-02-30",
    "ctrl": "a\x07b",
}


def csv_cases(
    kind: str,
    base: str,
    name: str,
    argv: tuple[str, ...],
    extra_files: tuple[tuple[str, object], ...] = (),
    *,
    columns: tuple[str, ...] | None = None,
    row: int = 1,
    cell_mutations: tuple[str, ...] = tuple(CELL_MUTATIONS),
    header_row: int = 0,
) -> list[Case]:
    """Generic, missing/duplicated/reordered-column and per-cell mutations of a CSV file."""
    rows = _csv_rows(base)
    header = rows[header_row]
    cases: list[Case] = []

    def add(cid: str, data: object) -> None:
        cases.append(Case(f"{kind}.{cid}", kind, ((name, data), *extra_files), argv))

    for mid, data in generic_file_mutations(kind, base.encode(), yaml_kind=False).items():
        add(f"file.{mid}", data)
    cols = [c for c in dict.fromkeys(header) if columns is None or c in columns]
    for k, col in enumerate(cols):
        j = header.index(col)
        add(f"{col}.column_missing", _csv_text([r[:j] + r[j + 1 :] for r in rows]))
        dup = [r[: j + 1] + r[j:] if len(r) > j else r for r in rows]
        add(f"{col}.column_duplicated", _csv_text(dup))
        for mid, _ in rotated(dict.fromkeys(cell_mutations), k):
            mutated = [list(r) for r in rows]
            mutated[header_row + row][j] = CELL_MUTATIONS[mid]
            add(f"{col}.row{row}={mid}", _csv_text(mutated))
    order = list(range(len(header)))[::-1]
    add("columns_reversed", _csv_text([[r[j] for j in order if j < len(r)] for r in rows]))
    add(
        "extra_field",
        _csv_text([r + (["x"] if i == header_row + row else []) for i, r in enumerate(rows)]),
    )
    return cases
