"""The JSON documents of the shipped scenarios do not change under a refactor (issue 18).

Each command of :mod:`tests.golden.cases` runs again and its document (timings removed) is
diffed against ``tests/golden/<name>.json``, written by ``python -m tests.golden.cases``.
"""

from __future__ import annotations

import json

import pytest

from tests.golden.cases import CASES, HERE, differences


def test_differences_sees_a_changed_value_key_and_length():
    """The diff itself: a moved value, a renamed key and a shorter list are all reported."""
    a = {"x": 1.0, "y": [1, 2], "z": "s", "b": True}
    assert differences(a, a) == []
    assert differences(a, {**a, "x": 1.0 + 1e-12}) == []
    assert differences(a, {**a, "x": 1.001}) == ["$.x: 1.0 != 1.001"]
    assert differences(a, {"w": 1.0, "y": [1, 2], "z": "s", "b": True}) == [
        "$.x: missing",
        "$.w: unexpected",
    ]
    assert differences(a, {**a, "y": [1]}) == ["$.y: length 2 != 1"]
    assert differences(a, {**a, "b": 1}) == ["$.b: True != 1"]


@pytest.mark.parametrize("name", list(CASES))
def test_document_equals_the_golden_file(name, tmp_path):
    expected = json.loads((HERE / f"{name}.json").read_text())
    actual = json.loads(json.dumps(CASES[name](tmp_path), sort_keys=True))
    diff = differences(expected, actual)
    assert not diff, f"{name}: {len(diff)} difference(s), first: " + "\n".join(diff[:20])
