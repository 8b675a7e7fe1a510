"""Margin: buying power of a structure under Reg-T strategy-based rules (`reg_t`), a CME-style SPAN
risk array (`span`) and TIMS-style portfolio margin (`portfolio`)."""
