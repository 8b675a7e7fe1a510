"""The malformed-input matrix (:mod:`tests.fuzz.matrix`): every case exits 2 with ``error:``
lines and no traceback, or is listed in :data:`tests.fuzz.accept.ACCEPTED` and succeeds."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.fuzz.accept import ACCEPTED, OPEN, open_cases
from tests.fuzz.cases import Case
from tests.fuzz.materialize import write_files
from tests.fuzz.matrix import all_cases
from tests.fuzz.runner import clean_error, clean_success, run_main

CASES = all_cases()
OPEN_CASES = open_cases([c.id for c in CASES])


def test_the_matrix_has_at_least_487_cases_and_every_acceptance_names_one():
    counts = Counter(c.kind for c in CASES)
    print(f"fuzz matrix: {len(CASES)} cases; " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    assert len(CASES) >= 487
    ids = {c.id for c in CASES}
    assert set(ACCEPTED) <= ids, sorted(set(ACCEPTED) - ids)
    assert not set(ACCEPTED) & set(OPEN_CASES)
    assert {r for r in OPEN_CASES.values()} == {r for _, r in OPEN}  # every open glob names one


def _sets(argv: tuple[str, ...]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--set"]


def _load(case: Case) -> None:
    path = case.argv[1]
    if case.loader == "scenario":
        from optimizer.inputs.spec import load_scenario

        load_scenario(path, _sets(case.argv))
    elif case.loader == "study":
        from optimizer.studies.study import load_study

        load_study(path, _sets(case.argv))
    else:
        from optimizer.audit.schema import load_audit

        load_audit(path, _sets(case.argv))


def _param(case: Case):
    if case.id in OPEN_CASES:
        mark = pytest.mark.xfail(reason=OPEN_CASES[case.id], strict=True)
        return pytest.param(case, id=case.id, marks=mark)
    return pytest.param(case, id=case.id)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_malformed_input(case: Case, tmp_path, monkeypatch, capfd):
    write_files(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    reason = ACCEPTED.get(case.id)
    if reason is not None and case.loader is not None:
        _load(case)  # valid input: its full run is a solve; the loader is the validation path
        return
    outcome = run_main(list(case.argv), capfd)
    if reason is not None:
        assert clean_success(outcome), f"accepted ({reason}) but {outcome.describe()}"
    else:
        assert clean_error(outcome), outcome.describe()
