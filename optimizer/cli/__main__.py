"""``python -m optimizer.cli``: the ``thetaplan`` command."""

from optimizer.cli.app import main

main()
