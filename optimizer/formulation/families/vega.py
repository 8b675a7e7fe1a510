"""Vega family: |portfolio vega| ≤ f × NLV per vol point (the scenario's ``caps: vega:``).

Row ``vega_nlv``: ``-f·NLV ≤ Σ_k vega_k n_k ≤ f·NLV`` (``short_only``: the lower side only), with
``vega_k`` the candidate's vega per contract unit per vol point in the account currency (the
candidate column ``vega_per_contract``, Black-Scholes-Merton / Black-76 vega / 100). Unlike the
fixed amounts of ``greeks.vega``, the cap moves with the account size, as the BP cap does, so the
minimum-NLV search and the sweeps scale it. A short-premium book is short vega: the lower side
is the one that binds. Settings::

    caps:
      vega:
        max_fraction: 0.005   # |vega| ≤ 0.5% of NLV per vol point
        short_only: false
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from optimizer.formulation.families._family import CapFamily, Lift, RowUnit
from optimizer.formulation.families._rows import INF, Part, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits

__all__ = ["FAMILY", "VegaCap", "vega_part"]

SECTION = "vega"


class VegaCap(BaseModel):
    """Settings of the vega cap (``caps.vega``; unknown keys rejected).

    Parameters
    ----------
    max_fraction : float
        Cap on |portfolio vega| per vol point, as a fraction of NLV (> 0, ≤ 1).
    short_only : bool
        Bound only the short side (``Σ vega n ≥ -f·NLV``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_fraction: float = Field(gt=0, le=1, allow_inf_nan=False)
    short_only: bool = False


def vega_part(cs: CandidateSet, limits: Limits) -> Part:
    """The ``vega_nlv`` row when ``caps.vega`` is set, else nothing.

    Parameters
    ----------
    cs : CandidateSet
        Candidates (K); column ``vega_per_contract`` (account currency per vol point).
    limits : Limits
        Caps in force (``limits.extra["vega"]``, ``limits.nlv``).

    Returns
    -------
    Part
        One block ``vega_nlv`` (family ``vega``) or an empty part.
    """
    settings = FAMILY.settings_of(limits)
    if settings is None:
        return Part()
    cap = settings.max_fraction * limits.nlv
    upper = INF if settings.short_only else cap
    rows = [("vega_nlv", cs.col("vega_per_contract"), -cap, upper)]
    return Part(blocks=(block("vega_nlv", SECTION, rows),))


def _without(limits: Limits) -> dict:
    return {"extra": {k: v for k, v in limits.extra.items() if k != SECTION}}


#: The vega cap: a row per book, relaxable in fraction of NLV, lifted by dropping the section.
FAMILY = CapFamily(
    name=SECTION,
    part=vega_part,
    lifts=(Lift("vega cap (fraction of NLV)", lambda lim: SECTION in lim.extra, _without),),
    relaxable=True,
    rows=(RowUnit(("vega_nlv",), "fraction of NLV"),),
    section=SECTION,
    settings=VegaCap,
)
