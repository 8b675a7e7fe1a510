"""Verdicts and reports: is the target reachable, what binds, what it takes; the risk report and
the result of a solve."""
