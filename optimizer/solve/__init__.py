"""Solving: the problem IR, solver-neutral statuses, the backends and the failure policy.

Knows nothing of verdicts: it returns outcomes, and records each failure-policy step it takes."""
