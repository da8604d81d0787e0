"""Hostile and odd files: each ends in one clear diagnostic, quickly, without reading them whole."""

from __future__ import annotations

import time

from cxrules import validate_path
from cxrules.loading import LoadLimits, load_file, load_text


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as stream:  # sparse: 50 MB on paper, nothing on disk
        stream.truncate(50 * 1024 * 1024)
    started = time.perf_counter()
    result = validate_path(path)
    assert [d.code for d in result.diagnostics] == ["CX102"]
    assert "50.0 MB" in result.diagnostics[0].message
    assert time.perf_counter() - started < 1.0  # refused from the file's size alone


def test_a_missing_file_is_an_io_error():
    document, problems = load_file("/nonexistent/org.yaml")
    assert document is None and [p.code for p in problems] == ["CX001"]


def test_a_folder_given_as_a_file_is_an_io_error(tmp_path):
    assert [p.code for p in load_file(tmp_path)[1]] == ["CX001"]


def test_deep_nesting_is_refused():
    text = "a: " + "[" * 200 + "]" * 200 + "\n"
    document, problems = load_text(text)
    assert document is None and [p.code for p in problems] == ["CX109"]


def test_alias_expansion_is_bounded_by_the_limit_not_by_memory():
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 12):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    started = time.perf_counter()
    document, problems = load_text("\n".join(lines), limits=LoadLimits(max_nodes=100_000))
    assert document is None and [p.code for p in problems] == ["CX108"]
    assert time.perf_counter() - started < 2.0  # 10^12 values were never built


def test_shared_aliases_under_the_limit_are_allowed():
    document, problems = load_text('base: &b {x: 1}\ncopy: *b\nmerged: {<<: *b, y: 2}\n')
    assert problems == []
    assert document.data == {"base": {"x": 1}, "copy": {"x": 1}, "merged": {"x": 1, "y": 2}}


def test_every_key_and_value_keeps_its_position():
    document, _ = load_text("org:\n  id: x\nroles:\n  - id: desk\n    name: Desk\n")
    assert str(document.location(("roles", 0, "name"))) == "<string>:5:11"
    assert str(document.location(("roles", 0, "name"), key=True)) == "<string>:5:5"
    assert str(document.location(("roles", 0, "missing"))) == "<string>:4:5"  # nearest enclosing value


def test_yaml11_surprises_are_remembered_for_hints():
    document, _ = load_text("country: NO\nat: 9:00\nplain: 'no'\n")
    assert document.surprises == {("country",): "NO", ("at",): "9:00"}
    assert document.data["plain"] == "no"


def test_keys_stay_text_even_when_yaml_would_read_them_as_booleans():
    document, _ = load_text("on: resolved\nno: 1\n")
    assert document.data == {"on": "resolved", "no": 1}


def test_a_byte_order_mark_is_accepted():
    document, problems = load_text("\ufeffa: 1\n".encode("utf-8"))
    assert problems == [] and document.data == {"a": 1}


def test_validation_pauses_the_garbage_collector_only_while_it_runs():
    import gc

    from conftest import ROOT

    assert gc.isenabled()
    validate_path(ROOT / "tests/fixtures/tiny.yaml")
    assert gc.isenabled()
