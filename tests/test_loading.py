"""Hostile and odd files: each ends in one clear diagnostic, without hanging and without reading them whole.

Nothing here measures time. "Not read" is proven by counting the bytes read through
``os.read`` and the files opened (the ``io_spy`` fixture); "never built" by counting the
nodes the loader builds. A FIFO that a regression would open in blocking mode raises in
the spy instead of hanging the run.
"""

from __future__ import annotations

import builtins
import io
import os
from collections import Counter
from pathlib import Path

import pytest

from cxrules import validate_path
from cxrules.diagnostics import Diagnostic, Location
from cxrules import loading
from cxrules.loading import LoadLimits, _Builder, load_file, load_text, org_files, read_regular, source_lines
from cxrules.reporting import QUOTE_WIDTH, Report, render

from conftest import EXAMPLES, ROOT

TINY = ROOT / "tests" / "fixtures" / "tiny.yaml"
INVALID = EXAMPLES / "invalid"
GB = 1024 ** 3


class IoSpy:
    """Every file opened and every byte read through ``os.read`` during a test, by real path.

    Paths in ``blocking_forbidden`` (FIFOs) may only be opened with O_NONBLOCK: a blocking
    open raises here rather than waiting for a writer that never comes.
    """

    def __init__(self, monkeypatch):
        self.opened: list[str] = []
        self.bytes: Counter = Counter()
        self.blocking_forbidden: set[str] = set()
        self._fds: dict[int, str] = {}
        real_os_open, real_read, real_open = os.open, os.read, builtins.open

        def spy_os_open(path, flags, *args, **kwargs):
            real = os.path.realpath(path)
            if real in self.blocking_forbidden and not flags & os.O_NONBLOCK:
                raise AssertionError(f"{path} opened without O_NONBLOCK: this would wait for ever")
            fd = real_os_open(path, flags, *args, **kwargs)
            self.opened.append(real)
            self._fds[fd] = real
            return fd

        def spy_read(fd, count):
            data = real_read(fd, count)
            self.bytes[self._fds.get(fd)] += len(data)
            return data

        def spy_open(file, *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)):
                real = os.path.realpath(file)
                if real in self.blocking_forbidden:
                    raise AssertionError(f"{file} opened with a blocking open(): this would wait for ever")
                self.opened.append(real)
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(os, "open", spy_os_open)
        monkeypatch.setattr(os, "read", spy_read)
        monkeypatch.setattr(builtins, "open", spy_open)
        monkeypatch.setattr(io, "open", spy_open)

    def forget(self) -> None:
        """Start counting afresh (after the test has written its files)."""
        self.opened.clear()
        self.bytes.clear()

    def read_from(self, path) -> int:
        return self.bytes[os.path.realpath(path)]

    def was_opened(self, path) -> bool:
        return os.path.realpath(path) in self.opened


@pytest.fixture
def io_spy(monkeypatch):
    return IoSpy(monkeypatch)


def _fifo(path: Path, spy: IoSpy | None = None) -> Path:
    os.mkfifo(path)
    if spy is not None:
        spy.blocking_forbidden.add(os.path.realpath(path))
    return path


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as stream:  # sparse: the size on paper, nothing on disk
        stream.truncate(size)
    return path


def _org(folder: Path, *includes: str, name: str = "org.yaml") -> Path:
    """tiny.yaml with an `include:` line (line 10) naming ``includes``."""
    text = TINY.read_text(encoding="utf-8")
    listed = ", ".join(f'"{entry}"' for entry in includes)
    text = text.replace("calendars:\n", f"include: [{listed}]\ncalendars:\n", 1)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _found(result) -> list[str]:
    return sorted(f"{d.code} {d.location.line}:{d.location.column}" for d in result.diagnostics)


# --- size: refused from the size alone ------------------------------------------------------------


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path, io_spy):
    path = _sparse(tmp_path / "huge.yaml", 50 * 1024 * 1024)
    result = validate_path(path)
    assert [d.code for d in result.diagnostics] == ["CX102"]
    assert "50.0 MB" in result.diagnostics[0].message
    assert io_spy.read_from(path) == 0  # refused from the file's size alone


def test_a_4_gb_sparse_file_is_one_diagnostic_and_its_report_reads_nothing(tmp_path, io_spy):
    path = _sparse(tmp_path / "org.yaml", 4 * GB)
    result = validate_path(path)
    assert [d.code for d in result.diagnostics] == ["CX102"]
    text = render(Report((str(path),), result.diagnostics), "text")  # used to read all 4 GB to quote line 1
    assert "4096.0 MB" in text
    assert io_spy.read_from(path) == 0


def test_a_file_that_grows_after_its_size_was_checked_is_still_cut_at_the_limit(tmp_path, io_spy, monkeypatch):
    path = tmp_path / "org.yaml"
    path.write_bytes(b"a: 1\n" * 1000)  # 5,000 bytes, under the 4,096-byte limit only on paper
    real_fstat = os.fstat
    monkeypatch.setattr(os, "stat", lambda p, **k: os.stat_result((0o100644, 0, 0, 1, 0, 0, 10, 0, 0, 0)))
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((real_fstat(fd).st_mode, 0, 0, 1, 0, 0, 10, 0, 0, 0)))
    document, problems = load_file(path, LoadLimits(max_bytes=4096))
    assert document is None and [p.code for p in problems] == ["CX102"]
    assert io_spy.read_from(path) == 4097  # the limit plus the one byte that proves it is over


# --- only regular files: FIFOs and devices never hang nor fill memory ------------------------------


def test_a_fifo_named_on_the_command_line_is_an_io_error_not_a_hang(tmp_path, io_spy):
    fifo = _fifo(tmp_path / "x.yaml", io_spy)
    result = validate_path(fifo)
    assert [d.code for d in result.diagnostics] == ["CX001"]
    assert "FIFO" in result.diagnostics[0].message and "not a regular file" in result.diagnostics[0].message


def test_a_fifo_swapped_in_after_the_check_is_refused_on_the_open_descriptor(tmp_path, io_spy, monkeypatch):
    fifo = _fifo(tmp_path / "x.yaml", io_spy)
    regular = os.stat(TINY)  # the path check sees a regular file; the descriptor tells the truth
    monkeypatch.setattr(os, "stat", lambda path, **kwargs: regular)
    document, problems = load_file(fifo)
    assert document is None and [p.code for p in problems] == ["CX001"] and "FIFO" in problems[0].message


def test_a_symlink_to_dev_zero_named_on_the_command_line_is_an_io_error(tmp_path, io_spy):
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    result = validate_path(link)
    assert [d.code for d in result.diagnostics] == ["CX001"]
    assert "character device" in result.diagnostics[0].message
    assert io_spy.read_from("/dev/zero") == 0


def test_read_regular_refuses_devices_and_reads_at_most_the_limit(tmp_path, io_spy):
    from cxrules.loading import FileTooLarge, NotRegularFile

    with pytest.raises(NotRegularFile):
        read_regular("/dev/zero", 100)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"x" * 1000)
    with pytest.raises(FileTooLarge):
        read_regular(big, 100)
    assert io_spy.read_from(big) == 0 and io_spy.read_from("/dev/zero") == 0


# --- folder scans -----------------------------------------------------------------------------------


def test_a_folder_scan_reports_a_fifo_without_opening_it(tmp_path, io_spy):
    good = tmp_path / "good.yaml"
    good.write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    fifo = _fifo(tmp_path / "x.yaml", io_spy)
    files, problems = org_files([tmp_path])
    assert files == [good]
    assert [(p.code, p.location.file) for p in problems] == [("CX001", str(fifo))]
    assert "FIFO" in problems[0].message and not io_spy.was_opened(fifo)


def test_a_folder_scan_does_not_follow_symlinks_out_of_the_folder(tmp_path, io_spy):
    folder = tmp_path / "orgs"
    folder.mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "passwd.yaml").symlink_to("/etc/passwd")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    (folder / "elsewhere.yaml").symlink_to(outside)
    (folder / "good.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "alias.yaml").symlink_to(folder / "good.yaml")  # a symlink inside the folder is followed
    io_spy.forget()
    files, problems = org_files([folder])
    assert sorted(p.name for p in files) == ["alias.yaml", "good.yaml"]
    assert sorted(Path(p.location.file).name for p in problems) == ["elsewhere.yaml", "passwd.yaml", "zero.yaml"]
    assert all(p.code == "CX001" and "outside the scanned folder; not followed" in p.message for p in problems)
    assert not any(io_spy.was_opened(p) for p in ("/etc/passwd", "/dev/zero", outside))


def test_cli_folder_scan_with_a_fifo_exits_2_with_one_clean_diagnostic(run_cli, tmp_path, io_spy):
    (tmp_path / "good.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    _fifo(tmp_path / "x.yaml", io_spy)
    result = run_cli("check", tmp_path)
    assert result.exit_code == 2
    assert result.stdout.count("CX001") == 1 and "is a FIFO (named pipe), not a regular file; not read" in result.stdout


# --- includes stay inside the org's folder, are regular files, and are never quoted unless org files ---


def test_an_absolute_include_without_suffix_is_refused_and_never_opened(tmp_path, io_spy):
    org = _org(tmp_path, "/etc/shadow")
    result = validate_path(org)
    assert _found(result) == ["CX114 10:11"]  # the schema's pattern; one diagnostic, not two
    assert not io_spy.was_opened("/etc/shadow")


@pytest.mark.parametrize("entry, words", [
    ("/etc/passwd.yaml", "is an absolute path"),
    ("../outside.yaml", "leads out of the org's folder"),
    ("parts/../../outside.yaml", "leads out of the org's folder"),
    ("passwd.yaml", "symlink to a place outside"),
    ("linked/outside.yaml", "symlink to a place outside"),
])
def test_includes_leaving_the_org_folder_are_refused_at_the_entry(tmp_path, io_spy, entry, words):
    folder = tmp_path / "org"
    folder.mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: cxrules/v1\nkind: Fragment\nsecret: do-not-print\n", encoding="utf-8")
    (folder / "passwd.yaml").symlink_to("/etc/passwd")
    (folder / "linked").symlink_to(tmp_path)  # a folder symlink leading out
    org = _org(folder, entry)
    io_spy.forget()
    result = validate_path(org)
    assert _found(result) == ["CX134 10:11"]
    assert words in result.diagnostics[0].message and result.diagnostics[0].hint
    text = render(Report((str(org),), result.diagnostics), "text")
    assert "root:" not in text and "do-not-print" not in text
    assert not any(io_spy.was_opened(p) for p in ("/etc/passwd", "/etc/passwd.yaml", outside))


def test_includes_inside_the_folder_through_symlinks_and_dotdot_still_work(tmp_path):
    folder = tmp_path / "org"
    (folder / "parts").mkdir(parents=True)
    fragment = (ROOT / "tests/examples/valid/parts/duties.yaml").read_text(encoding="utf-8")
    (folder / "parts" / "duties.yaml").write_text(fragment, encoding="utf-8")
    (folder / "duties_link.yaml").symlink_to(folder / "parts" / "duties.yaml")
    text = (ROOT / "tests/examples/valid/split.yaml").read_text(encoding="utf-8")
    assert "include: [parts/duties.yaml]" in text
    (folder / "split.yaml").write_text(text.replace("include: [parts/duties.yaml]", "include: [parts/../duties_link.yaml]"),
                                       encoding="utf-8")
    result = validate_path(folder / "split.yaml")
    assert result.diagnostics == () and result.org is not None


def test_an_included_fifo_is_one_diagnostic_at_the_entry_and_never_opened(tmp_path, io_spy):
    org = _org(tmp_path, "parts/pipe.yaml")
    (tmp_path / "parts").mkdir()
    fifo = _fifo(tmp_path / "parts" / "pipe.yaml", io_spy)
    result = validate_path(org)
    assert _found(result) == ["CX135 10:11"]
    assert "is a FIFO (named pipe), not a regular file" in result.diagnostics[0].message
    assert not io_spy.was_opened(fifo)


def test_an_included_symlink_to_a_fifo_in_the_folder_is_refused(tmp_path, io_spy):
    _fifo(tmp_path / "pipe", io_spy)
    (tmp_path / "pipe.yaml").symlink_to(tmp_path / "pipe")
    result = validate_path(_org(tmp_path, "pipe.yaml"))
    assert _found(result) == ["CX135 10:11"]


def test_an_included_symlink_to_dev_zero_is_refused_without_reading(tmp_path, io_spy):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    result = validate_path(_org(tmp_path, "zero.yaml"))
    assert _found(result) == ["CX134 10:11"]
    assert io_spy.read_from("/dev/zero") == 0


def test_an_included_4_gb_sparse_file_is_reported_at_the_entry_without_reading(tmp_path, io_spy):
    big = _sparse(tmp_path / "big.yaml", 4 * GB)
    org = _org(tmp_path, "big.yaml")
    result = validate_path(org)
    assert _found(result) == ["CX102 10:11"]
    assert "included file `big.yaml` is 4096.0 MB" in result.diagnostics[0].message
    render(Report((str(org),), result.diagnostics), "text")
    assert io_spy.read_from(big) == 0


@pytest.mark.parametrize("name, content", [
    ("token.yaml", '{"api_token": "s3cr3t-token", "items": [1, 2]}\n'),            # JSON under a .yaml name
    ("ci.yaml", "name: deploy\nenv:\n  TOKEN: s3cr3t-token\n  TOKEN: again\n"),  # YAML, even with a duplicate key
    ("notes.yaml", "password: s3cr3t-token: more\n"),                          # not even YAML
    ("binary.yaml", "s3cr3t-token\x00\x01\x02"),
    ("empty.yaml", ""),
])
def test_an_included_file_that_is_not_an_org_file_is_never_quoted(tmp_path, name, content):
    (tmp_path / name).write_text(content, encoding="utf-8")
    org = _org(tmp_path, name)
    result = validate_path(org)
    assert _found(result) == ["CX135 10:11"]
    for format in ("text", "json", "sarif", "github"):
        assert "s3cr3t-token" not in render(Report((str(org),), result.diagnostics), format)


def test_an_included_org_file_with_a_syntax_error_is_still_shown_in_place(tmp_path):
    (tmp_path / "part.yaml").write_text("apiVersion: cxrules/v1\nkind: Fragment\nchannels:\n  - id: a\n    name: [A\n",
                                        encoding="utf-8")
    result = validate_path(_org(tmp_path, "part.yaml"))
    assert [(Path(d.location.file).name, d.code) for d in result.diagnostics] == [("part.yaml", "CX100")]


# --- reporters read only the lines they quote -------------------------------------------------------


def test_the_text_reporter_reads_only_up_to_the_line_it_quotes(tmp_path, io_spy):
    path = tmp_path / "org.yaml"
    path.write_bytes(b"a: 1\nb: 2\nc: 3\n" + b"x" * 79 + b"\n" * 100_000)  # 8 MB after the quoted line
    diagnostic = Diagnostic("CX100", "example", Location(str(path), 2, 4))
    text = render(Report((str(path),), (diagnostic,)), "text")
    assert "    b: 2\n       ^" in text
    assert io_spy.read_from(path) <= 1 << 16  # the first chunk holds line 2


def test_a_long_line_is_quoted_as_a_window_around_the_column(tmp_path):
    path = tmp_path / "org.yaml"
    line = "k: [" + ", ".join(f"v{i:04d}" for i in range(2000)) + "]"
    path.write_text(f"a: 1\n{line}\n", encoding="utf-8")
    column = line.index("v1000") + 1
    text = render(Report((str(path),), (Diagnostic("CX201", "x", Location(str(path), 2, column)),)), "text")
    quoted, caret = text.splitlines()[1:3]
    assert quoted.startswith("    …") and quoted.endswith("…") and len(quoted) <= 4 + QUOTE_WIDTH + 2
    assert quoted[caret.index("^"):].startswith("v1000")


def test_quoted_lines_align_the_caret_under_chinese_text_and_drop_terminal_escapes(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text("name: 投诉专员: x\nlabel: \x1b]0;pwned\x07\n", encoding="utf-8")
    diagnostics = (Diagnostic("CX100", "x", Location(str(path), 1, 11)), Diagnostic("CX100", "y", Location(str(path), 2, 1)))
    lines = render(Report((str(path),), diagnostics), "text").splitlines()
    assert lines[2].index("^") == 4 + len("name: ") + 2 * len("投诉专员")
    assert "\x1b" not in "\n".join(lines) and "\x07" not in "\n".join(lines)


def test_source_lines_skips_lines_that_are_not_text(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: \xff\nc: \x00\nd: 4")
    assert source_lines(path, {1, 2, 3, 4, 5}) == {1: ("a: 1", False), 4: ("d: 4", False)}


@pytest.mark.parametrize("format", ["json", "sarif", "github"])
def test_machine_reporters_open_no_file(tmp_path, io_spy, format):
    fifo = _fifo(tmp_path / "x.yaml", io_spy)
    big = _sparse(tmp_path / "big.yaml", 4 * GB)
    diagnostics = tuple(Diagnostic("CX102", "x", Location(str(p), 1, 1)) for p in (fifo, big))
    io_spy.forget()
    render(Report((str(fifo), str(big)), diagnostics), format)
    assert not io_spy.opened


# --- YAML slips with a named fix ---------------------------------------------------------------------


@pytest.mark.parametrize("name, message, hint", [
    ("yaml_fullwidth_colon.yaml", "`：` (full-width colon, U+FF1A) where YAML expects `:`", "replace `：` (full-width colon) with `:`"),
    ("yaml_fullwidth_colon_item.yaml", "`：` (full-width colon, U+FF1A)", "replace `：` (full-width colon) with `:`"),
    ("yaml_fullwidth_comma.yaml", "`，` (full-width comma, U+FF0C)", "replace `，` (full-width comma) with `,`"),
    ("yaml_fullwidth_quotes.yaml", "`“` (left double quotation mark, U+201C)",
     'replace `“` (left double quotation mark) with `"`; also `”` at column 27'),
    ("yaml_fullwidth_space.yaml", "`\u3000` (full-width space, U+3000)", "replace `\u3000` (full-width space) with an ordinary space"),
    ("yaml_key_indented_too_far.yaml", "`reports_to` starts at column 6, out of line with the keys above it",
     "indent `reports_to` to column 5, like `unit` on line 34"),
    ("yaml_key_indented_too_little.yaml", "`reports_to` starts at column 4", "indent `reports_to` to column 5, like `unit` on line 34"),
    ("yaml_item_indented_too_little.yaml", "this list item starts at column 2", "indent the `-` to column 3, like the item on line 41"),
    ("yaml_colon_in_value.yaml", "`: ` inside the value of `name`", 'put the value in quotes: `name: "Centre: run it"`'),
])
def test_yaml_slips_name_the_fix(name, message, hint):
    (diagnostic,) = validate_path(INVALID / name).diagnostics
    assert diagnostic.code == "CX100"
    assert message in diagnostic.message and diagnostic.hint == hint


@pytest.mark.parametrize("text, where, fix", [
    ("org：\n  id: x\n", "1:4", "replace `：` (full-width colon) with `:`"),
    ("org:\n  id: x\n  label：投诉专员\n", "3:8", "replace `：` (full-width colon) with `:`"),  # the last line of the file
    ("a:\n  b:\n    c: 1\n d: 2\n", "4:2", "indent `d` to column 3, like `b` on line 2"),       # an outer level
    ("org:\n     id: x\n  name: y\n", "3:3", "indent `name` to column 6, like `id` on line 2"),
    ("a: {x: 1，y: 2}\n", "1:9", "replace `，` (full-width comma) with `,`"),
    ("org:\n  id: x\n  label； 投诉\n", "3:8", "replace `；` (full-width semicolon) with `:`"),  # U+FF1B, beside `：` on the keyboard
])
def test_more_yaml_slips(text, where, fix):
    _, (problem,) = load_text(text)
    assert (problem.code, f"{problem.location.line}:{problem.location.column}", problem.hint) == ("CX100", where, fix)


def test_chinese_punctuation_in_values_is_not_blamed_for_other_mistakes():
    _, (problem,) = load_text("org:\n  name: 投诉：售后，“VIP”\n  id: [a, b\n")
    assert "did not find expected ',' or ']'" in problem.message and problem.hint is None


def test_lookalike_search_stays_linear_on_a_hostile_line():
    _, (problem,) = load_text("a: " + "］" * 200_000 + ": b\n")  # bounded: long lines are not searched
    assert problem.code == "CX100"


# --- the rest: bounded structure, positions -----------------------------------------------------------


def test_a_missing_file_is_an_io_error():
    document, problems = load_file("/nonexistent/org.yaml")
    assert document is None and [p.code for p in problems] == ["CX001"]


def test_a_folder_given_as_a_file_is_an_io_error(tmp_path):
    assert [p.code for p in load_file(tmp_path)[1]] == ["CX001"]


def test_deep_nesting_is_refused():
    text = "a: " + "[" * 200 + "]" * 200 + "\n"
    document, problems = load_text(text)
    assert document is None and [p.code for p in problems] == ["CX109"]


def test_alias_expansion_is_bounded_by_the_limit_not_by_memory(monkeypatch):
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 12):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    built = Counter()
    real_build = _Builder.build

    def counting_build(self, *args):
        built["nodes"] += 1
        return real_build(self, *args)

    monkeypatch.setattr(_Builder, "build", counting_build)
    document, problems = load_text("\n".join(lines), limits=LoadLimits(max_nodes=100_000))
    assert document is None and [p.code for p in problems] == ["CX108"]
    assert built["nodes"] < 200  # the file's 133 nodes at most: the 10^12 values were never built


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

    assert gc.isenabled()
    validate_path(TINY)
    assert gc.isenabled()


# --- nothing outside the org files is ever printed: symlinks out, stray files named by mistake --------

SHADOW = "root:$6$s3cr3t-hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\napi_token: s3cr3t-token\n"
SECRETS = ("s3cr3t", "root:", "daemon:")
FORMATS = ("text", "json", "sarif", "github")


def _shadow(tmp_path: Path) -> Path:
    """A file outside the scanned folder, with /etc/shadow-like lines (the real one is not readable everywhere)."""
    secret = tmp_path / "shadow"
    secret.write_text(SHADOW, encoding="utf-8")
    return secret


def _scan_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "scan"
    folder.mkdir()
    (folder / "good.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "sh.yaml").symlink_to(_shadow(tmp_path))
    (folder / "passwd.yaml").symlink_to("/etc/passwd")
    return folder


def _leaks(output: str) -> list[str]:
    return [secret for secret in SECRETS if secret in output]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("command", ["validate", "check"])
def test_a_folder_scan_never_prints_what_a_symlink_out_of_it_points_to(run_cli, tmp_path, io_spy, command, format):
    folder = _scan_folder(tmp_path)
    io_spy.forget()
    result = run_cli(command, folder, "--format", format)
    assert result.exit_code == 2
    assert result.stdout.count("outside the scanned folder; not followed") == 2
    assert _leaks(result.stdout) == []  # the text reporter used to quote line 1 of the target under CX001
    assert not io_spy.was_opened(tmp_path / "shadow") and not io_spy.was_opened("/etc/passwd")


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("command", ["validate", "check"])
def test_a_symlink_out_of_its_folder_named_on_the_command_line_is_not_followed(run_cli, tmp_path, command, format):
    folder = _scan_folder(tmp_path)
    result = run_cli(command, *sorted(folder.glob("*.yaml")), "--format", format)  # what `cxrules check scan/*.yaml` runs
    assert result.exit_code == 2
    assert _leaks(result.stdout) == []  # sarif and github used to carry every line of the target in CX112 messages
    assert "outside the folder holding the link; not followed" in result.stdout
    assert "sh.yaml" in result.stdout and "passwd.yaml" in result.stdout  # the links are named, not their targets


def test_a_named_symlink_is_one_io_diagnostic_naming_the_link_and_why(tmp_path, io_spy):
    link = _scan_folder(tmp_path) / "sh.yaml"
    io_spy.forget()
    result = validate_path(link)
    assert [(d.code, d.location.file) for d in result.diagnostics] == [("CX001", str(link))]
    assert f"is a symlink to `{tmp_path / 'shadow'}`" in result.diagnostics[0].message and result.diagnostics[0].hint
    render(Report((str(link),), result.diagnostics), "text")
    assert not io_spy.was_opened(tmp_path / "shadow")  # neither the loader nor the reporter opened the target


def test_a_named_symlink_inside_its_folder_is_followed(tmp_path):
    (tmp_path / "org.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "alias.yaml").symlink_to("org.yaml")
    result = validate_path(tmp_path / "alias.yaml")
    assert result.diagnostics == () and result.org is not None


def test_a_scan_still_reads_a_symlink_to_elsewhere_in_the_scanned_folder(tmp_path):
    (tmp_path / "org.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "alias.yaml").symlink_to(tmp_path / "org.yaml")  # outside sub/, inside the scanned folder
    files, problems = org_files([tmp_path])
    assert problems == [] and len(files) == 2
    assert all(validate_path(file).org is not None for file in files)


@pytest.mark.parametrize("name, content, code", [
    ("shadow.yaml", SHADOW, "CX120"),                                              # its lines used to come back as unknown keys
    ("notes.yaml", "password: s3cr3t-token: root:\n", "CX100"),                    # not YAML: the syntax error used to quote it
    ("ci.yaml", "name: deploy\nenv:\n  TOKEN: s3cr3t-token\n  TOKEN: again\n", "CX120"),  # keys used to come back as CX112
    ("k8s.yaml", "apiVersion: v1\nkind: Secret\ndata:\n  root: s3cr3t\n", "CX120"),
    ("list.yaml", "- root: s3cr3t\n- daemon: x\n", "CX110"),
    ("tag.yaml", "!s3cr3t-tag {root: 1}\n", "CX100"),                              # the tag used to be named in CX109
])
@pytest.mark.parametrize("format", FORMATS)
def test_a_file_that_is_not_an_org_file_named_on_the_command_line_is_never_echoed(run_cli, tmp_path, name, content, code, format):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run_cli("validate", path, "--format", format)
    assert result.exit_code == 1
    assert _leaks(result.stdout) == []
    assert result.stdout.count("this is not a cxrules org file") == 1 and code in result.stdout


def test_an_org_file_with_a_broken_api_version_line_keeps_its_exact_syntax_error(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text(TINY.read_text(encoding="utf-8").replace("apiVersion: cxrules/v1", "apiVersion cxrules/v1\n  x"), encoding="utf-8")
    (problem,) = validate_path(path).diagnostics
    assert problem.code == "CX100" and "not a cxrules org file" not in problem.message


def test_the_text_reporter_quotes_only_files_the_run_read_as_org_files(tmp_path, io_spy):
    org = tmp_path / "org.yaml"
    org.write_text("apiVersion: cxrules/v1\nkind: Organisation\n", encoding="utf-8")
    stray = _shadow(tmp_path)
    at = lambda path, code="CX100": Diagnostic(code, "x", Location(str(path), 1, 1))  # noqa: E731
    io_spy.forget()
    assert "    root:" not in render(Report((str(org),), (at(stray),)), "text")           # not read in this run: never opened
    assert not io_spy.was_opened(stray)
    assert "    root:" not in render(Report((str(stray),), (at(stray), at(stray, "CX001"))), "text")  # refused with an I/O diagnostic
    result = validate_path(stray)                                                       # read, and found not to be an org file
    assert "    root:" not in render(Report((str(stray),), result.diagnostics), "text")
    assert "    apiVersion: cxrules/v1" in render(Report((str(org),), (at(org),)), "text")  # an org file of the run: quoted


def test_control_characters_in_messages_never_reach_the_terminal(tmp_path):
    diagnostic = Diagnostic("CX114", "`a\x1b]0;pwned\x07b` has the wrong form", Location("x.yaml", 1, 1), hint="no \x1b[2J")
    for format in ("text", "github"):
        out = render(Report(("x.yaml",), (diagnostic,)), format)
        assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned\\x07b" in out


# --- include paths with control characters, and symlink loops: one diagnostic, no traceback -------------


@pytest.mark.parametrize("entry, shown", [
    ("parts/a\x00.yaml", "parts/a\\x00.yaml"),
    ("parts/a\nb.yaml", "parts/a\\x0ab.yaml"),
    ("parts/\x1b]0;pwned\x07.yaml", "parts/\\x1b]0;pwned\\x07.yaml"),
])
def test_a_control_character_in_an_include_path_is_one_diagnostic_at_the_entry(tmp_path, entry, shown):
    text = TINY.read_text(encoding="utf-8").replace("calendars:\n", f"include: [{json_quoted(entry)}]\ncalendars:\n", 1)
    (tmp_path / "org.yaml").write_text(text, encoding="utf-8")
    result = validate_path(tmp_path / "org.yaml")  # `ValueError: embedded null byte` before
    assert _found(result) == ["CX114 10:11"]
    assert f"include path `{shown}` holds a control character" in result.diagnostics[0].message


def json_quoted(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string is a YAML double-quoted string: `\u0000` for NUL


@pytest.mark.parametrize("args", [
    ("validate", "{org}"), ("check", "{org}"), ("route", "{org}", "{ticket}"), ("graph", "{org}"),
    ("diff", "{org}", "{org}"), ("report", "{org}", "--output", "{out}"),
])
def test_every_command_reports_a_nul_in_an_include_path_without_a_traceback(run_cli, tmp_path, args):
    org = tmp_path / "org.yaml"
    org.write_text(TINY.read_text(encoding="utf-8").replace("calendars:\n", 'include: ["parts/a\\0.yaml"]\ncalendars:\n', 1),
                   encoding="utf-8")
    ticket = tmp_path / "t.json"
    ticket.write_text('{"category": "complaint", "channel": "phone", "segment": "vip", "priority": "high"}', encoding="utf-8")
    result = run_cli(*(arg.format(org=org, ticket=ticket, out=tmp_path / "r.html") for arg in args))
    assert result.exit_code != 0 and "CX114" in result.output and "parts/a\\x00.yaml" in result.output


@pytest.mark.parametrize("links", [{"loop.yaml": "loop.yaml"}, {"loop.yaml": "b.yaml", "b.yaml": "loop.yaml"}],
                         ids=["itself", "a-b-a"])
def test_an_include_that_is_a_symlink_loop_is_one_diagnostic_at_the_entry(tmp_path, links):
    for name, target in links.items():
        (tmp_path / name).symlink_to(target)
    result = validate_path(_org(tmp_path, "loop.yaml"))  # OSError ELOOP / RuntimeError before
    assert _found(result) == ["CX135 10:11"] and "symlink that loops" in result.diagnostics[0].message


def test_a_symlink_loop_in_a_scanned_folder_or_named_is_one_io_diagnostic(run_cli, tmp_path):
    (tmp_path / "good.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    files, problems = org_files([tmp_path])  # pathlib's resolve() raised RuntimeError for it
    assert [p.name for p in files] == ["good.yaml"]
    assert [(p.code, Path(p.location.file).name) for p in problems] == [("CX001", "loop.yaml")]
    for target in (tmp_path, tmp_path / "loop.yaml"):
        result = run_cli("validate", target)
        assert result.exit_code == 2 and result.stdout.count("CX001") == 1 and "symlink that loops" in result.stdout


# --- too many values: said as such, and refused before composing -------------------------------------------


def test_too_many_values_are_refused_before_composing_and_not_blamed_on_aliases(monkeypatch):
    composed = Counter()
    real_get_node = loading._Loader.get_node

    def counting_get_node(self):
        composed["documents"] += 1
        return real_get_node(self)

    monkeypatch.setattr(loading._Loader, "get_node", counting_get_node)
    document, problems = load_text("x: [" + "1, " * 5_000 + "]\n", limits=LoadLimits(max_nodes=1_000))
    assert document is None and [p.code for p in problems] == ["CX108"]
    assert "too many values" in problems[0].message and "1,000 YAML nodes" in problems[0].message
    assert "alias" not in problems[0].message + problems[0].hint
    assert str(problems[0].location) == "<string>:1:2996"  # the 1,001st node: after the mapping, `x`, the list and 997 items
    assert composed["documents"] == 0  # the nodes were counted from the parser's events and dropped, never composed


def test_the_builder_says_too_many_values_too_when_the_cheap_estimate_lets_a_file_through(monkeypatch):
    monkeypatch.setattr(loading, "_may_hold_too_many_nodes", lambda text, limit: False)
    document, problems = load_text("x: [" + "1, " * 5_000 + "]\n", limits=LoadLimits(max_nodes=1_000))
    assert [p.code for p in problems] == ["CX108"] and "too many values" in problems[0].message
    assert str(problems[0].location) == "<string>:1:2996"  # the same node as the event count names


def test_the_estimate_never_misses_a_file_over_the_limit():
    for text in ("x: [" + "1, " * 400 + "]", "{" + "a," * 400 + "}", "- " * 300 + "x", "?\n" * 400, "[" + "[]," * 400 + "]",
                 "a:\n" * 400, "[" + "{a}," * 400 + "]"):
        parser, nodes = loading._Loader(text), 0
        while parser.check_event():
            nodes += isinstance(parser.get_event(), loading._NODE_EVENTS)
        assert loading._may_hold_too_many_nodes(text, nodes - 1), text[:20]


def test_alias_expansion_still_says_aliases():
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(5)]
    _, (problem,) = load_text("\n".join(lines), limits=LoadLimits(max_nodes=10_000))
    assert problem.code == "CX108" and "aliases expand" in problem.message
