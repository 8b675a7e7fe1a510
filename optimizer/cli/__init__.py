"""Command-line interface (typer + rich): the ``thetaplan`` commands, their formatting and templates.

The library never imports this package; it renders results and computes none."""
