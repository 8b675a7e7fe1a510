"""Studies: many solves from one base scenario (cases, grids, sweeps on Dask, frontiers, phases)."""
