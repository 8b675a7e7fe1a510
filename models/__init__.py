"""thetaplan domain layer: pricing, option chains, instruments, strategies, margin, income.

Pure, solver-free, vectorized numpy. Nothing in this package imports an optimization solver.
"""
