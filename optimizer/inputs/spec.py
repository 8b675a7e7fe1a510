"""Scenario file schema (pydantic, unknown keys rejected) and loader.

A scenario YAML maps one-to-one onto :class:`Scenario`. Paths inside it resolve relative to the
file. ``--set dotted.path=value`` overrides are applied to the raw mapping before validation, with
``value`` parsed as YAML (``--set account.net_liq=80000``, ``--set objective=max_income``).
Every validation failure becomes one :class:`~models.errors.SpecError` line naming the field path.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    Field,
    ValidationError,
    model_validator,
)

from models.errors import ModelError, SpecError
from models.instruments import get_instrument
from models.legs import Right
from models.strategies import template
from optimizer.inputs.spec_base import ObjectiveKind, _Strict
from optimizer.inputs.spec_caps import (
    AllocationSpec,
    BuyingPowerSpec,
    GreeksSpec,
    LeverageSpec,
    PositionsSpec,
    RiskSpec,
    SolverSpec,
)
from optimizer.inputs.spec_market import (
    Account,
    ChainSpec,
    CostsSpec,
    DerivedSpec,
    IncomeSpec,
    MarketSpec,
    SyntheticSpec,
    TargetSpec,
)
from optimizer.inputs.spec_strategies import (
    FixedCandidateSpec,
    HeldLegSpec,
    HeldPositionSpec,
    MarginSpec,
    StrategySpec,
    TrackingSpec,
)

__all__ = [
    "Account",
    "AllocationSpec",
    "BuyingPowerSpec",
    "ChainSpec",
    "DerivedSpec",
    "FixedCandidateSpec",
    "GreeksSpec",
    "HeldLegSpec",
    "HeldPositionSpec",
    "IncomeSpec",
    "MarginSpec",
    "MarketSpec",
    "ObjectiveKind",
    "PositionsSpec",
    "Scenario",
    "SolverSpec",
    "StrategySpec",
    "SyntheticSpec",
    "TargetSpec",
    "TrackingSpec",
    "load_scenario",
    "apply_overrides",
    "scenario_to_yaml",
    "read_yaml_mapping",
]


def _is_control(c: str) -> bool:
    """A C0/C1 control character or DEL (``unicodedata`` category Cc)."""
    import unicodedata

    return unicodedata.category(c) == "Cc"


def _shown(text: str) -> str:
    """``text`` with its control characters written escaped (``\\x07``), for messages."""
    return "".join(repr(c)[1:-1] if _is_control(c) else c for c in text)


class Scenario(_Strict):
    """A sizing scenario: account, market, strategies, caps, objective and solver settings."""

    name: str
    description: str = ""
    valuation_time: datetime
    account: Account
    market: MarketSpec
    target: TargetSpec
    income: IncomeSpec = IncomeSpec()
    costs: CostsSpec = CostsSpec()
    objective: ObjectiveKind = ObjectiveKind.MAX_THETA
    strategies: dict[str, StrategySpec]
    allocation: AllocationSpec = AllocationSpec()
    buying_power: BuyingPowerSpec = BuyingPowerSpec()
    leverage: LeverageSpec = LeverageSpec()
    greeks: GreeksSpec = GreeksSpec()
    positions: PositionsSpec = PositionsSpec()
    solver: SolverSpec = SolverSpec()
    risk: RiskSpec | None = None
    held: list[HeldPositionSpec] = Field(default_factory=list)
    tracking: TrackingSpec = TrackingSpec()
    #: Settings of the cap families that own a section (one module each in
    #: :mod:`optimizer.formulation.families`, e.g. ``caps: {vega: {max_fraction: 0.01}}``);
    #: validated by the family's own model when the scenario is prepared.
    caps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _cross(self):
        if not self.strategies:
            raise ValueError("strategies: at least one strategy is needed")
        for where, text in (
            ("name", self.name),
            ("description", self.description.replace("\n", " ").replace("\t", " ")),
            *((f"strategies.{_shown(k)}", k) for k in self.strategies),
        ):
            bad = next((c for c in text if _is_control(c)), None)
            if bad is not None:
                # an escape sequence in a name would reach the terminal and the reports
                raise ValueError(f"{where}: control character {bad!r} not allowed")
        total = sum(s.weight for s in self.strategies.values())
        if self.allocation.enabled and not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"strategies: weights sum to {total:.4f}, must sum to 1")
        known = set(self.market.chains) | set(self.market.derived) | set(self.market.synthetic)
        for section in ("chains", "derived", "synthetic"):
            for sym in getattr(self.market, section):
                try:
                    get_instrument(sym)
                except ModelError as exc:
                    raise ValueError(f"market.{section}.{sym}: {exc}") from None
        for name, s in self.strategies.items():
            for sym in s.underlyings:
                if sym not in known:
                    raise ValueError(
                        f"strategies.{name}.underlyings.{sym}: no market data for {sym} "
                        f"(define it under market.chains, market.derived or market.synthetic)"
                    )
        for i, h in enumerate(self.held):
            if h.strategy not in self.strategies:
                raise ValueError(f"held.{i}.strategy: unknown strategy {h.strategy!r}")
            if self.strategies[h.strategy].template == "fixed":
                raise ValueError(
                    f"held.{i}.strategy: {h.strategy!r} has stated economics (template fixed); "
                    "held positions need a chain-based strategy"
                )
            if h.underlying not in known:
                raise ValueError(
                    f"held.{i}.underlying: no market data for {h.underlying} "
                    "(define it under market.chains, market.derived or market.synthetic)"
                )
        for name in self.buying_power.strategy_caps:
            if name not in self.strategies:
                raise ValueError(f"buying_power.strategy_caps.{name}: unknown strategy")
        for name in self.positions.correlation_groups.exclude_strategies:
            if name not in self.strategies:
                raise ValueError(
                    f"positions.correlation_groups.exclude_strategies: unknown {name!r}"
                )
        for name in self.positions.max_loss_strategies or []:
            if name not in self.strategies:
                raise ValueError(f"positions.max_loss_strategies: unknown strategy {name!r}")
        for name in self.positions.products_by_phase:
            if name not in self.strategies:
                raise ValueError(f"positions.products_by_phase: unknown strategy {name!r}")
        if self.target.success_probability is not None and self.income.model != "managed":
            raise ValueError(
                "target.success_probability: needs income.model 'managed' (the monthly samples)"
            )
        chain_based = any(s.template != "fixed" for s in self.strategies.values())
        if self.income.model == "managed" and chain_based and self.market.history is None:
            if self.income.measure == "fhs":
                raise ValueError(
                    "market.history: the managed income model's physical measure (fhs) needs "
                    "the VIX and S&P 500 histories"
                )
            if self.income.vol_ratio == "measured":
                raise ValueError("income.vol_ratio: 'measured' needs market.history")
        for name, s in self.strategies.items():
            tl = s.management.target_legs
            if tl is not None and s.template not in ("custom", "fixed"):
                n_opt = sum(leg.right is not Right.UNDERLYING for leg in template(s.template))
                bad = [i for i in tl if i >= n_opt]
                if bad:
                    raise ValueError(
                        f"strategies.{name}.management.target_legs: leg {bad[0]} does not exist "
                        f"({s.template} has {n_opt} option legs)"
                    )
        return self

    def resolve(self, path: Path) -> Path:
        """Resolve a path from the scenario relative to the scenario file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)


def _date_reason(text: str) -> str | None:
    """Why ``text`` is not an ISO date or date-time (Python's reason), or None if it is one."""
    try:
        datetime.fromisoformat(text.strip())
    except ValueError as exc:
        return str(exc)
    return None


def _unknown_key(errors: list[dict]) -> tuple[dict, str] | None:
    """The first unknown key (``extra_forbidden``) and its message, with a "did you mean" hint
    when a required key missing beside it is a close spelling (``targt`` → ``target``)."""
    import difflib

    extra = [e for e in errors if e.get("type") == "extra_forbidden" and e["loc"]]
    if not extra:
        return None
    err = extra[0]
    parent, key = tuple(err["loc"][:-1]), str(err["loc"][-1])
    missing = [
        str(e["loc"][-1])
        for e in errors
        if e.get("type") == "missing" and e["loc"] and tuple(e["loc"][:-1]) == parent
    ]
    close = difflib.get_close_matches(key, missing, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return err, err["msg"] + hint


def _format_error(exc: ValidationError) -> str:
    errors = exc.errors()
    err = errors[0]
    msg = err["msg"].removeprefix("Value error, ")
    unknown = _unknown_key(errors)
    if unknown is not None and (err.get("type") in ("missing", "extra_forbidden")):
        # a misspelt key shows as an unknown key plus a missing one: name the typo first
        err, msg = unknown
    # a key may hold any character: control characters (a newline in a YAML key) are shown
    # escaped, so the message stays one line
    loc = ".".join(str(p) if str(p).isprintable() else repr(str(p))[1:-1] for p in err["loc"])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    if str(err.get("type", "")).startswith(("datetime", "date")) and isinstance(
        err.get("input"), str
    ):
        # impossible dates (2026-02-30, kept as text by the loader): say what is wrong with it
        reason = _date_reason(err["input"])
        if reason is not None:
            msg = f"{err['input']!r} is not a valid date or date-time ({reason})"
    # model-level validators put the (relative) field path at the start of their message
    head = re.match(r"^([A-Za-z0-9_.\-]+): (.*)$", msg, re.S)
    if head and loc:
        return f"{loc}.{head.group(1)}: {head.group(2)}{more}"
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def scenario_to_yaml(scenario: Scenario) -> str:
    """A scenario as YAML text that :func:`load_scenario` reads back to an equal scenario.

    Fields equal to their defaults are left out; the file paths of the market (chains,
    histories) are written absolute, so the file can be saved anywhere.
    """
    raw = scenario.model_dump(mode="json", exclude_defaults=True)
    market = raw.get("market", {})
    for name, chain in (market.get("chains") or {}).items():
        chain["path"] = str(scenario.resolve(scenario.market.chains[name].path).resolve())
    if scenario.market.history is not None:
        market["history"] = {
            "vix": str(scenario.resolve(scenario.market.history.vix).resolve()),
            "index": str(scenario.resolve(scenario.market.history.index).resolve()),
        }
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.path=value`` overrides to a raw scenario mapping (value parsed as YAML).

    Raises
    ------
    SpecError
        If an override is not of the form ``path=value`` or walks through a non-mapping.
    """
    out = dict(raw)
    for item in overrides:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected dotted.path=value")
        path, value = item.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise SpecError(f"--set {item!r}: empty path")
        node = out
        for i, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise SpecError(f"--set {item!r}: {'.'.join(keys[: i + 1])} is not a mapping")
            child = dict(child)
            node[key] = child
            node = child
        try:
            node[keys[-1]] = _load_yaml(value)
        except YamlLimitError as exc:
            raise SpecError(f"--set {item.split('=', 1)[0]}: value refused: {exc}") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"--set {item!r}: value is not valid YAML ({exc})") from None
    return out


class _YamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that keeps an impossible date (``2026-02-30``) as its text and
    refuses a key given twice in one mapping.

    PyYAML raises a bare ``ValueError`` from ``datetime`` for such a timestamp, with no field
    path; kept as text, the value reaches the schema, which reports it under its field path
    (``valuation_time: …``). A repeated key (``net_liq: 75000`` then ``net_liq: 750``) would
    silently keep the last value (YAML 1.2 says keys are unique; PyYAML does not check): it is a
    :class:`yaml.constructor.ConstructorError` naming both lines. Merge keys (``<<``) may still
    be overridden by an explicit key.
    """

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML reports it itself
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first on line {first + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_YamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


#: Largest YAML input read (scenario, study, audit files and ``--set`` values): the shipped
#: files are under 10 KB.
MAX_YAML_BYTES = 1_000_000
#: Most values a YAML document may expand to once its aliases are followed (a 0.7 KB "billion
#: laughs" document of nested aliases expands to ~10^9 and took 1.7 GB before validation).
MAX_YAML_VALUES = 200_000
#: Deepest nesting of mappings and lists (the parser recurses once per level).
MAX_YAML_DEPTH = 100


class YamlLimitError(ValueError):
    """A YAML document beyond :data:`MAX_YAML_BYTES`, :data:`MAX_YAML_VALUES` or
    :data:`MAX_YAML_DEPTH`."""


def _check_expansion(obj: Any) -> None:
    """Count the values ``obj`` holds with its aliases expanded, stopping at the limits."""
    count = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise YamlLimitError(
                f"the document expands to more than {MAX_YAML_VALUES:,} values (YAML aliases)"
            )
        if depth > MAX_YAML_DEPTH:
            raise YamlLimitError(f"nested deeper than {MAX_YAML_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            stack.extend((k, depth + 1) for k in node)
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with impossible dates kept as text (see :class:`_YamlLoader`),
    within :data:`MAX_YAML_BYTES`, :data:`MAX_YAML_DEPTH` and :data:`MAX_YAML_VALUES`.

    Raises
    ------
    YamlLimitError
        A document beyond the limits.
    yaml.YAMLError
        Invalid YAML.
    """
    if len(text) > MAX_YAML_BYTES:
        raise YamlLimitError(f"more than {MAX_YAML_BYTES:,} characters")
    try:
        obj = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # the composer recurses once per level: far deeper than the limit
        raise YamlLimitError(f"nested deeper than {MAX_YAML_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits (int's str limit)
        raise YamlLimitError(str(exc).split(";")[0]) from None
    _check_expansion(obj)
    return obj


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML file (``safe_load``) that must hold a mapping.

    Impossible dates (``2026-02-30``) are kept as text so that schema validation reports them
    under their field path.

    Raises
    ------
    SpecError
        Unreadable file, a file that is not UTF-8 text (the first bad byte and its offset),
        invalid YAML (with the line), or a document that is not a mapping.
    """
    try:
        if path.exists() and not path.is_file():  # a FIFO or a device would block the read
            raise SpecError(f"{path}: not a regular file")
        if path.exists() and path.stat().st_size > MAX_YAML_BYTES:
            raise SpecError(f"{path}: {what} file larger than {MAX_YAML_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read {what} file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        byte = f"byte 0x{bad[0]:02x}" if bad else "truncated character"
        raise SpecError(f"{path}: not UTF-8 text ({byte} at offset {exc.start})") from None
    try:
        raw = _load_yaml(text)
    except YamlLimitError as exc:
        raise SpecError(f"{path}: {what} file refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = str(getattr(exc, "problem", "") or "")
        if problem.startswith("duplicate key"):
            raise SpecError(f"{path}:{where}: {problem}") from None
        raise SpecError(f"{path}:{where} invalid YAML") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a {what} file must be a YAML mapping")
    return raw


#: Top-level keys that only one kind of thetaplan file has (a file of the wrong kind is named).
_KIND_KEYS = {
    "scenario": ("account", "strategies"),
    "study": ("cases", "grid"),
    "audit": ("capital_levels", "streams"),
}
_KIND_COMMANDS = {
    "scenario": "thetaplan solve / backtest / frontier / report",
    "study": "thetaplan phases / sweep / report",
    "audit": "thetaplan audit",
}


def check_file_kind(raw: dict[str, Any], path: Path, expected: str) -> None:
    """Refuse a file of another kind with one line that says so (before schema validation).

    A study given to ``solve`` would otherwise fail as "account: Field required (+11 more)".
    The kind is read off keys only that kind has (:data:`_KIND_KEYS`); a file with none of them
    goes on to the schema, which names its fields.

    Raises
    ------
    SpecError
        ``<path>: this is a <kind> file, not a <expected> (<commands that read it>)``.
    """
    for kind, keys in _KIND_KEYS.items():
        if kind != expected and any(k in raw for k in keys):
            if any(k in raw for k in _KIND_KEYS[expected]):
                return  # has the expected kind's keys too: let the schema say what is wrong
            raise SpecError(
                f"{path}: this is {_a(kind)} file, not {_a(expected)} file ({_a(kind)} file is "
                f"read by {_KIND_COMMANDS[kind]})"
            )


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, override and validate a scenario YAML file.

    Parameters
    ----------
    path : str | Path
        Scenario file.
    overrides : list[str] | None
        ``dotted.path=value`` strings.

    Returns
    -------
    Scenario

    Raises
    ------
    SpecError
        Unreadable file, invalid YAML, or a validation failure (message names the field path).
    """
    p = Path(path)
    raw = read_yaml_mapping(p, "scenario")
    check_file_kind(raw, p, "scenario")
    raw = apply_overrides(raw, overrides or [])
    raw["base_dir"] = p.parent.resolve()
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{p}: {_format_error(exc)}") from None
