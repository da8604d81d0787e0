"""Hundreds of damaged copies of the seed orgs: every one ends in diagnostics, never a traceback."""

from __future__ import annotations

import random

import jsonschema
import pytest

from cxrules import validate_path
from cxrules.checks import run_checks
from cxrules.codes import lookup
from cxrules.loading import load_file
from cxrules.schema import is_valid, org_schema

from conftest import SEED_ORGS



def _mutate(text: bytes, rng: random.Random) -> bytes:
    lines = text.split(b"\n")
    kind = rng.randrange(8)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[j])
    elif kind == 2 and b":" in lines[i] and b":" in lines[j]:  # swap two values
        key_i, _, value_i = lines[i].partition(b":")
        key_j, _, value_j = lines[j].partition(b":")
        lines[i], lines[j] = key_i + b":" + value_j, key_j + b":" + value_i
    elif kind == 3:
        return text[:rng.randrange(len(text))]
    elif kind == 4:
        lines[i] = b"\t" + lines[i]
    elif kind == 5:
        data = bytearray(text)
        data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    elif kind == 6:
        lines[i] = lines[i][rng.randrange(1, 4):] if lines[i].startswith(b"  ") else b"  " + lines[i]
    else:  # a value replaced by a near miss, a number or nothing
        key, sep, value = lines[i].partition(b":")
        if sep:
            lines[i] = key + sep + rng.choice([b" 0", b" -1", b" 99999999999999999999", b"", b" [", b" x_y", value[:-1], value + b"x"])
    return b"\n".join(lines)


@pytest.mark.parametrize("rounds", [100, pytest.param(1000, marks=pytest.mark.slow)], ids=["100", "1000"])
@pytest.mark.parametrize("org", SEED_ORGS, ids=lambda p: p.stem)
def test_mutated_orgs_end_in_diagnostics_not_tracebacks(org, rounds, tmp_path):
    rng = random.Random(f"{org.stem}:{rounds}")
    original = org.read_bytes()
    outcomes = {"valid": 0, "invalid": 0}
    for round_ in range(rounds):
        path = tmp_path / f"{round_}.yaml"
        path.write_bytes(_mutate(original, rng))
        result = validate_path(path)
        lines = path.read_bytes().count(b"\n") + 2
        for diagnostic in result.diagnostics:
            assert lookup(diagnostic.code), diagnostic
            assert 1 <= diagnostic.location.line <= lines and diagnostic.location.column >= 1, diagnostic
            assert diagnostic.message
        if result.org is not None:
            run_checks(result.org)
            outcomes["valid"] += 1
        else:
            outcomes["invalid"] += 1
        document, _ = load_file(path)
        if document is not None:  # the fast gate and jsonschema must agree on every file
            errors = list(jsonschema.Draft202012Validator(org_schema()).iter_errors(document.data))
            assert is_valid(document.data) == (not errors)
    assert outcomes["invalid"] > rounds // 3, outcomes
