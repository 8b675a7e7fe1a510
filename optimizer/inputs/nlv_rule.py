"""How the caps move with the account size: the rule behind the minimum-NLV search and the
income-vs-NLV curves (``positions.scale_with_nlv``).

Caps stated as fractions of NLV (buying power, group risk, max loss per position, CVaR, VaR,
stress) scale with the account in every case, and so does buying power stated as a fraction of
NLV (:meth:`optimizer.inputs.candidates.CandidateSet.at_nlv`). Position counts need a rule, because the
Tom King tables state them per phase and stop at phase 4:

* ``scale_with_nlv: true`` (default) — **phases by NLV as the tables say** (``phases.csv``
  bands in GBP: a larger account moves up a phase, a smaller one down, with that phase's max
  positions, total cap, correlation-group limit, BP band and products), and **above the phase-4
  floor (GBP 75,000) every count cap the tables give × NLV / GBP 75,000** (max positions per
  strategy, the total cap, the correlation-group unit limits, each set to ``phase``; limits
  stated as numbers stay; :func:`optimizer.inputs.limits.count_scale`, applied
  by :func:`optimizer.inputs.limits.resolve_limits`, so a scenario's own solve above £75k uses it too).
  The tables say nothing above phase 4; the proportional rule is thetaplan's stated
  assumption: a £150k account runs two £75k books side by side. At the scenario's own NLV
  the phase is the scenario's (stated or ``auto``); across a band, the table's.
* ``scale_with_nlv: false`` — the phase and every count cap stay as at the scenario's NLV (only
  the NLV-fraction caps scale); more money then buys no more positions.

The structural rules (one position per strategy, group and expiry; products) are not counts and
do not scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from models import phases as phase_tables
from models.errors import ModelError
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import (
    Limits,
    allowed_products,
    nlv_gbp,
    resolve_limits,
    top_phase_floor_gbp,
)
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import Scenario

__all__ = ["NlvRule"]


@dataclass
class NlvRule:
    """The candidates, caps and risk data of a scenario at another account size.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its VIX resolved).
    candidates : CandidateSet
        Its candidates at its own NLV.
    limits : Limits
        Its caps at its own NLV.
    risk : RiskData | None
        Its risk data (tail-risk caps), shared by every NLV of the same phase.
    enabled : bool
        ``positions.scale_with_nlv``.
    build : callable | None
        ``phase -> (CandidateSet, RiskData | None)`` for a phase whose products differ
        (``positions.products_by_phase``); called once per such phase.
    """

    scenario: Scenario
    candidates: CandidateSet
    limits: Limits
    risk: RiskData | None
    enabled: bool
    build: Callable[[int], tuple[CandidateSet, RiskData | None]] | None = None

    def __post_init__(self) -> None:
        self._by_phase: dict[int, tuple[CandidateSet, RiskData | None]] = {}

    @property
    def text(self) -> str:
        """The rule in words, as reported with the minimum NLV."""
        if not self.enabled:
            return (
                "positions.scale_with_nlv off: phase and count caps fixed at the scenario's; "
                "NLV-fraction caps (BP, group risk, max loss, CVaR, stress) scale"
            )
        floor = top_phase_floor_gbp()
        return (
            "positions.scale_with_nlv: phases by NLV as phases.csv says (GBP bands), and "
            f"above the phase-4 floor (GBP {floor:,.0f}) every count cap the tables "
            f"give × NLV / GBP {floor:,.0f} (assumption: the tables stop at phase 4); "
            "NLV-fraction caps (BP, group risk, max loss, CVaR, stress) scale"
        )

    def _table_phase(self, nlv: float) -> int:
        try:
            return phase_tables.phase_for_nlv(nlv_gbp(self.scenario, nlv))
        except ModelError:  # below the phase-1 floor: phase 1 is the smallest the tables have
            return 1

    def phase_at(self, nlv: float) -> int:
        """The phase at ``nlv``: the scenario's own at its NLV, the table's across a band."""
        own = self.limits.phase
        if not self.enabled:
            return own
        table = self._table_phase(nlv)
        if nlv >= self.limits.nlv:
            return max(own, table)
        return min(own, table)

    def at(self, nlv: float) -> tuple[CandidateSet, Limits, RiskData | None]:
        """Candidates, caps and risk data at account size ``nlv`` (account currency).

        With the rule on, the caps are those :func:`optimizer.inputs.limits.resolve_limits` gives the
        scenario at ``nlv`` in the phase :meth:`phase_at` says (count caps scaled above the
        phase-4 floor there, :func:`optimizer.inputs.limits.count_scale`): exactly what
        ``thetaplan solve`` of the scenario with ``account.net_liq = nlv`` (and that phase)
        solves.
        """
        cs, risk = self.candidates, self.risk
        if not self.enabled:
            return cs.at_nlv(nlv), self.limits.at_nlv(nlv), risk
        phase = self.phase_at(nlv)
        sc = self.scenario.model_copy(
            update={
                "account": self.scenario.account.model_copy(
                    update={"phase": phase, "net_liq": float(nlv)}
                )
            }
        )
        limits = resolve_limits(sc)
        if phase != self.limits.phase and self.build is not None:
            own_products = allowed_products(self.scenario, self.limits.phase)
            if allowed_products(sc, phase) != own_products:
                if phase not in self._by_phase:
                    self._by_phase[phase] = self.build(phase)
                cs, risk = self._by_phase[phase]
        return cs.at_nlv(nlv), limits, risk
