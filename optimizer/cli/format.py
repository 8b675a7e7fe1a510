"""Rich tables in the house style of the terminal output (light rules, title above, folding cells)."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

__all__ = ["house_table", "indented", "print_table"]


def house_table(title: str, **kw) -> Table:
    """A table in the house style: light rules, no vertical borders, title printed above it.

    The title is kept on the table (``_title_text``) and printed by :func:`print_table` as a
    line of its own, so that a narrow table does not fold a long title.
    """
    kw.setdefault("box", box.SIMPLE_HEAD)
    kw.setdefault("pad_edge", False)
    kw.setdefault("show_edge", False)
    kw.setdefault("collapse_padding", True)
    t = Table(**kw)
    t._title_text = title  # type: ignore[attr-defined]
    return t


def print_table(console: Console, t: Table) -> None:
    """Print the title line, then the table; cells fold instead of ending in "…"."""
    for col in t.columns:
        col.overflow = "fold"
    title = getattr(t, "_title_text", "")
    if title:
        console.print(f"[bold]{escape(title)}[/]", highlight=False)
    console.print(t)


def indented(console: Console, text: str, indent: int = 2) -> None:
    """Print ``text`` (markup) indented, wrapped lines indented too."""
    console.print(Padding(text, (0, 0, 0, indent)))
