"""Run one CLI invocation in process, bounded in CPU time (and in wall time for blocking reads).

The CPU bound is ``signal.setitimer(signal.ITIMER_PROF, …)``: it counts the process' CPU time,
so a loaded machine does not make a case fail; the wall-clock alarm only catches a read that
blocks (a FIFO with no writer). Both raise :class:`Budget`, a ``BaseException`` so that the CLI's
``except Exception`` does not swallow it.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass

#: CPU seconds one case may use (a malformed input must fail on validation, in milliseconds).
CPU_BUDGET = 10.0
#: Wall seconds before a case is declared blocked (generous: only blocking reads hit it).
WALL_BUDGET = 60

#: What a Python traceback or an unhandled exception's last line looks like on a stream.
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception):", re.M)


class Budget(BaseException):
    """A case used more than its CPU or wall budget."""


@dataclass
class Outcome:
    """Exit code (``None``: an exception escaped ``main``), captured output, escaped exception."""

    code: int | None
    out: str
    err: str
    escaped: BaseException | None = None

    def describe(self) -> str:
        """One line for an assertion message."""
        esc = "" if self.escaped is None else f" escaped {type(self.escaped).__name__}"
        return f"exit {self.code}{esc}; stderr {self.err[-400:]!r}; stdout {self.out[-200:]!r}"


def _raise_budget(signum, frame):
    raise Budget("CPU" if signum == signal.SIGPROF else "wall")


def run_main(argv: list[str], capfd) -> Outcome:
    """``optimizer.cli.app.main(argv)`` under the budgets; output read from ``capfd``."""
    from optimizer.cli.app import main

    capfd.readouterr()  # drop anything printed before the case
    old_prof = signal.signal(signal.SIGPROF, _raise_budget)
    old_alrm = signal.signal(signal.SIGALRM, _raise_budget)
    signal.setitimer(signal.ITIMER_PROF, CPU_BUDGET)
    signal.alarm(WALL_BUDGET)
    code: int | None = None
    escaped: BaseException | None = None
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - Budget or an escaped exception is the finding
        escaped = exc
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.alarm(0)
        signal.signal(signal.SIGPROF, old_prof)
        signal.signal(signal.SIGALRM, old_alrm)
    cap = capfd.readouterr()
    return Outcome(code, cap.out, cap.err, escaped)


def clean_error(o: Outcome) -> bool:
    """Exit 2 with at least one ``error:`` line and no traceback or exception name line."""
    text = o.out + o.err
    return (
        o.escaped is None
        and o.code == 2
        and re.search(r"^error: \S", text, re.M) is not None
        and TRACEBACK.search(text) is None
    )


def clean_success(o: Outcome) -> bool:
    """Exit 0 and no traceback."""
    return o.escaped is None and o.code == 0 and TRACEBACK.search(o.out + o.err) is None
