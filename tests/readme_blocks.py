"""The README's ``bash`` code blocks as commands: what ``tests/test_readme.py`` and ``.ci/run`` run.

A block is a fenced block opened by a line starting with three backticks and ``bash``; its
commands are its logical lines (a trailing backslash continues a line; ``#`` starts a comment).
``python tests/readme_blocks.py --two-commands N`` prints the N-th line of the "Two commands"
block (the install + main job, and the test command), which ``.ci/run`` executes verbatim.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


@dataclass(frozen=True)
class Command:
    """One logical command line of a README block.

    Attributes
    ----------
    block : int
        1-based number of the ``bash`` block in the README.
    line : int
        1-based README line where the command starts.
    text : str
        The command as written (continuations joined, comment kept).
    argv : list of str
        ``shlex`` split with comments removed (a line with ``&&`` keeps them as tokens).
    """

    block: int
    line: int
    text: str
    argv: list[str]


def blocks(text: str | None = None) -> list[list[Command]]:
    """The README's ``bash`` blocks, each a list of :class:`Command` in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    out: list[list[Command]] = []
    cur: list[Command] | None = None
    pending, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        if cur is None:
            if re.match(r"^```bash\s*$", raw):
                cur = []
            continue
        if raw.startswith("```"):
            out.append(cur)
            cur = None
            continue
        if not pending:
            start = n
        stripped = raw.rstrip()
        if stripped.endswith("\\") and "#" not in stripped:
            pending += stripped[:-1] + " "
            continue
        line = pending + raw
        pending = ""
        argv = shlex.split(line, comments=True)
        if argv:
            cur.append(Command(len(out) + 1, start, line.strip(), argv))
    return out


def two_commands() -> list[str]:
    """The lines of the block under the "Two commands" heading (install + main job, tests)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1]
    first = blocks(section)[0]
    return [c.text for c in first]


def main(argv: list[str] | None = None) -> int:
    """Print the N-th line of the "Two commands" block."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--two-commands", type=int, required=True, choices=(1, 2))
    args = ap.parse_args(argv)
    print(two_commands()[args.two_commands - 1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
