"""Formulation: the backend-neutral sizing problem assembled from candidates and caps.

:mod:`optimizer.formulation.build` assembles one :class:`~optimizer.solve.problem.SizingProblem`;
:mod:`optimizer.formulation.objectives` holds the objectives and :mod:`optimizer.formulation.families`
one module per constraint family."""
