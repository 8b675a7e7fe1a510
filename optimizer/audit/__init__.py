"""Seed 2's capital-scenario audit and the allocation of capital across return streams."""
