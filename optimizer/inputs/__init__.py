"""Inputs of a solve: the scenario schema, market state, caps in force, candidates, the income and risk data.

Reads nothing but validated scenarios and the market files they name; builds no optimization model."""
