"""Read YAML into plain data while remembering where every key and value came from.

PyYAML's composer already knows the position of every node; its constructor throws that
away and silently keeps the last of two equal keys. So we compose with libyaml (when
present) and build the data ourselves: each value is recorded under its path
(``("roles", 3, "reports_to")``) with the line and column of its key and of the value.

Hostile input ends in exactly one diagnostic, quickly and in bounded memory: only regular
files are read (a FIFO would wait for ever, `/dev/zero` never ends), files above a size
limit are refused before reading (checked on the opened descriptor too), binary and
non-UTF-8 files before parsing, and aliases are never copied (equal subtrees are shared)
while their expanded size is counted against a budget, which stops "billion laughs" files.

Includes stay inside the org's folder and are never quoted unless they are org files; a file
named on the command line that is a symlink out of its folder is not followed, and one that is
not an org file (no `apiVersion: cxrules/...`) gets one diagnostic that quotes nothing of it.
The reporters read back only the lines they quote (:func:`source_lines`), never from such files.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Optional

import yaml

from .diagnostics import Diagnostic, Location, Related

__all__ = ["Document", "LoadLimits", "load_file", "load_text", "org_files", "JsonPath", "read_regular", "read_head", "file_kind", "NOT_ORGS", "MAPPING_KIND", "MODEL_KIND", "open_regular_binary", "named_link_refusal", "source_lines",
           "NotRegularFile", "FileTooLarge", "resolve_include", "load_included", "NOT_AN_ORG_FILE"]

JsonPath = tuple[Any, ...]

_Loader: type[Any]
try:  # libyaml is ~10x faster; PyYAML's wheels ship it, source builds may not
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str")}
_STR, _MAP, _SEQ, _MERGE, _TIMESTAMP = (_TAG + t for t in ("str", "map", "seq", "merge", "timestamp"))
_YAML11_SURPRISES = {"yes", "no", "on", "off", "y", "n"}


def _is_surprising(text: str, value: Any) -> bool:
    """YAML 1.1 reads `no` as false and `9:00` as 540; authors rarely mean that."""
    if isinstance(value, bool):
        return text.lower() in _YAML11_SURPRISES
    return isinstance(value, (int, float)) and (":" in text or text.startswith("0") and len(text) > 1 and text.isdigit())


@dataclass(frozen=True)
class LoadLimits:
    """Bounds that keep hostile files cheap. The defaults fit any real org with room to spare."""

    max_bytes: int = 10 * 1024 * 1024
    max_nodes: int = 2_000_000
    """YAML nodes (keys, values, list items), as written and as aliases expand them (CX108)."""
    max_depth: int = 64


@dataclass(frozen=True)
class Document:
    """One YAML file as plain data plus the position of every key and value in it."""

    file: str
    data: Any
    positions: Mapping[JsonPath, tuple[int, int, int, int]] = field(repr=False)
    surprises: Mapping[JsonPath, str] = field(default_factory=dict, repr=False)
    """Text of plain scalars that YAML 1.1 turns into something else: `no` → false, `9:00` → 540."""

    def location(self, path: JsonPath = (), *, key: bool = False) -> Location:
        """Where ``path`` is written; falls back to the nearest enclosing value that exists."""
        path = tuple(path)
        while path not in self.positions and path:
            path = path[:-1]
        key_line, key_column, line, column = self.positions.get(path, (1, 1, 1, 1))
        if key:
            return Location(self.file, key_line, key_column)
        return Location(self.file, line, column)

    def get(self, path: JsonPath, default: Any = None) -> Any:
        """The value at ``path``, or ``default`` when any step is missing or of another shape."""
        value = self.data
        for step in path:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                return default
        return value


class _LoadError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a folder: nothing cxrules reads."""

    def __init__(self, path, kind: str):
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


class FileTooLarge(OSError):
    """The file is larger than the reader's limit (found from its size, before reading it)."""

    def __init__(self, path, size: int, limit: int):
        super().__init__(f"{path} is {size} bytes; the limit is {limit}")
        self.size = size
        self.limit = limit


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _open_regular(path, max_bytes: int, *, follow: bool = True) -> int:
    """A descriptor on ``path`` once it is known to be a regular file of at most ``max_bytes``.

    Checked twice: on the path (so a FIFO or a device is never opened) and on the opened
    descriptor (so a file swapped in between is caught). The open never blocks: with
    O_NONBLOCK a FIFO swapped in opens at once and is then refused by ``fstat``.
    """
    _refuse(path, os.stat(path, follow_symlinks=follow), max_bytes)
    fd = os.open(path, _OPEN_FLAGS | (0 if follow else getattr(os, "O_NOFOLLOW", 0)))
    try:
        _refuse(path, os.fstat(fd), max_bytes)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse(path, status: os.stat_result, max_bytes: int) -> None:
    kind = _kind(status.st_mode)
    if kind is not None:
        raise NotRegularFile(path, kind)
    if status.st_size > max_bytes:
        raise FileTooLarge(path, status.st_size, max_bytes)


def read_regular(path, max_bytes: int = 10 * 1024 * 1024, *, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, read through one bounded descriptor.

    Raises :class:`NotRegularFile` for FIFOs, devices, sockets and folders, :class:`FileTooLarge`
    when the file is (or grows) over the limit, and :class:`OSError` when it cannot be read.
    Never reads more than ``max_bytes + 1`` bytes.
    """
    fd = _open_regular(path, max_bytes, follow=follow)
    try:
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise FileTooLarge(path, total, max_bytes)  # it grew since fstat
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(size: int, limits: LoadLimits, shown: str, where: Location | None = None, entry: str | None = None) -> Diagnostic:
    what = f"included file `{entry}`" if entry is not None else "file"
    return Diagnostic("CX102", f"{what} is {size / 1048576:.1f} MB; org files are read up to {limits.max_bytes / 1048576:.0f} MB",
                      where or Location(shown), hint="split the org into fragments with `include`, or check that this is the right file")


def load_file(path: str | os.PathLike, limits: LoadLimits = LoadLimits(), display: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read one org file (an org, or a ticket-log mapping) named by the user; returns the document or the one diagnostic that stopped it.

    Only regular files are read (a FIFO, a device or a socket is an I/O error, CX001), and
    only up to ``limits.max_bytes`` (CX102, decided from the size before reading). A symlink
    whose target lies outside the folder holding the link, or that loops, is not followed
    (CX001 naming the link): a glob such as `orgs/*.yaml` in CI must not read `/etc/shadow`
    through a link someone committed. A file that is not an org file (no `apiVersion:
    cxrules/...`) gets one diagnostic that quotes nothing of it (:func:`_not_an_org_file`).
    """
    shown = display or str(path)
    refusal = named_link_refusal(path)
    if refusal is not None:
        return None, [refusal]
    try:
        raw = read_regular(path, limits.max_bytes)
    except FileTooLarge as error:
        return None, [_too_large(error.size, limits, shown)]
    except NotRegularFile as error:
        if error.kind == "a folder":
            return None, [Diagnostic("CX001", "is a folder, expected a YAML file", Location(shown))]
        return None, [Diagnostic("CX001", f"is {error.kind}, not a regular file; cxrules reads org files from regular files only",
                                 Location(shown), hint="name the YAML file itself")]
    except OSError as error:
        return None, [Diagnostic("CX001", f"cannot read file: {error.strerror or error}", Location(shown))]
    document, problems = load_text(raw, shown, limits)
    refusal = _not_an_org_file(document, problems, raw, shown)
    if refusal is not None:
        return None, [refusal]
    return document, problems


def named_link_refusal(path) -> Diagnostic | None:
    """Why a symlink named by the user is not followed: its target leaves the link's folder, or it loops."""
    try:
        if not os.path.islink(path):
            return None
        folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        target = os.path.realpath(path)
    except (OSError, ValueError):
        return None  # reading it reports why
    where = Location(str(path))
    try:
        status = os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Diagnostic("CX001", "is a symlink that loops (it leads back to itself); not followed", where,
                              hint="point the symlink at the org file, or name the org file itself")
        status = None
    if _inside(target, folder):
        return None
    kind = _kind(status.st_mode) if status is not None else None
    what = f"`{target}`" + (f" ({kind})" if kind else "")
    return Diagnostic("CX001", f"is a symlink to {what}, outside the folder holding the link; not followed", where,
                      hint="name the target itself if it really is an org file, or copy it next to the link")


def _declares_org(head: bytes | str) -> bool:
    """Whether the start of a file declares `apiVersion: cxrules/...` (loosely: a mistyped colon or quotes still count)."""
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    return "\x00" not in text and _DECLARES_LOOSELY.search(text[:65536]) is not None


_DECLARES_LOOSELY = re.compile(r"apiVersion\W{0,8}cxrules/")
NOT_AN_ORG_FILE = "this is not a cxrules org file"
"""Part of the message of every diagnostic that refuses a file as not an org file; reporters quote nothing of such a file."""
_CONTENT_FREE = ("CX102", "CX103", "CX104", "CX107")
"""Problems whose messages say nothing of the file's content: they stand for a file that is not an org file too."""


def _not_an_org_file(document: Document | None, problems: list[Diagnostic], raw: bytes, shown: str) -> Diagnostic | None:
    """The one diagnostic for a file that is not an org file, which quotes nothing of it; None for an org file.

    Someone may run `cxrules validate` on the wrong file, or a glob may catch a config file
    beside the orgs: then an unknown-property message would print its keys, and a syntax
    error its lines. An org file declares `apiVersion: cxrules/...`; anything else gets one
    diagnostic at its top saying so (CX120 for a mapping, CX110 for a list or a scalar, CX100
    for text that is not YAML).
    """
    not_org = f"{NOT_AN_ORG_FILE}, so nothing more of it is checked"
    hint = "an org file starts with `apiVersion: cxrules/v1`; add it if this is one, or name the org file instead"
    if document is None:
        if not problems or problems[0].code in _CONTENT_FREE or _declares_org(raw):
            return None
        return Diagnostic("CX100", f"invalid YAML and no `apiVersion: cxrules/v1`: {not_org}", Location(shown), hint=hint)
    data = document.data
    if isinstance(data, dict):
        version = data.get("apiVersion")
        if isinstance(version, str) and version.startswith("cxrules/"):
            return None
        if "apiVersion" in data:
            return Diagnostic("CX120", f"`apiVersion` is not `cxrules/v1`: {not_org}", document.location(("apiVersion",)), hint=hint)
        return Diagnostic("CX120", f"the file has no `apiVersion: cxrules/v1`: {not_org}", document.location(()), hint=hint)
    shape = "a list" if isinstance(data, list) else "a single value"
    return Diagnostic("CX110", f"the file holds {shape}, not a mapping with `apiVersion: cxrules/v1`: {not_org}",
                      document.location(()), hint=hint)


_LINE_BYTES = 16384
_CONTROL = {code: "\ufffd" for code in (*range(0x00, 0x09), *range(0x0a, 0x20), 0x7f, *range(0x80, 0xa0))}


def source_lines(file: str | os.PathLike, wanted, max_bytes: int = LoadLimits().max_bytes) -> dict[int, tuple[str, bool]]:
    """The text of the lines ``wanted`` (1-based) of a file, for quoting under a diagnostic.

    Reads the file once, front to back in small chunks, and stops after the last wanted
    line; keeps at most 16 KB of each wanted line. Returns ``{line: (text, cut)}`` where
    ``cut`` says the line goes on past the text. Lines that are not UTF-8 or hold NUL bytes
    are left out, and control characters (terminal escapes) are replaced. Nothing is read
    from files that are not regular or are larger than ``max_bytes``: the loader refused
    those before parsing, so no diagnostic quotes them. Which files may be quoted at all is
    the reporter's choice (:func:`cxrules.reporting._quotable`).
    """
    want = {line for line in wanted if isinstance(line, int) and line >= 1}
    if not want:
        return {}
    try:
        fd = _open_regular(file, max_bytes)
    except (OSError, ValueError):
        return {}
    found: dict[int, tuple[str, bool]] = {}
    last, line, kept, cut, total = max(want), 1, bytearray(), False, 0
    try:
        while line <= last:
            chunk = os.read(fd, 1 << 16)
            total += len(chunk)
            if not chunk or total > max_bytes:
                if chunk:  # grew past the limit since fstat: quote nothing more
                    kept, cut = bytearray(), False
                break
            start = 0
            while line <= last:
                newline = chunk.find(b"\n", start)
                end = len(chunk) if newline < 0 else newline
                if line in want:
                    room = _LINE_BYTES - len(kept)
                    kept += chunk[start:start + min(room, end - start)]
                    cut = cut or end - start > room
                if newline < 0:
                    break
                if line in want:
                    _keep(found, line, kept, cut)
                kept, cut = bytearray(), False
                line += 1
                start = newline + 1
        if line in want and line <= last and (kept or cut):
            _keep(found, line, kept, cut)  # the last line, without a line break
    finally:
        os.close(fd)
    return found


def _keep(found: dict, line: int, raw: bytearray, cut: bool) -> None:
    if raw.endswith(b"\r"):
        del raw[-1:]
    if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
        del raw[:3]
    if b"\x00" in raw:
        return
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(bytes(raw), final=not cut)  # a cut may split a character
    except UnicodeDecodeError:
        return
    found[line] = (text.translate(_CONTROL), cut)


def load_text(raw: bytes | str, file: str = "<string>", limits: LoadLimits = LoadLimits()) -> tuple[Document | None, list[Diagnostic]]:
    """Parse YAML text (bytes are decoded as UTF-8) into a positioned :class:`Document`."""
    try:
        text = _decode(raw, file) if isinstance(raw, bytes) else raw
        return _compose(text, file, limits)
    except _LoadError as error:
        return None, [error.diagnostic]


def _position(text_or_bytes, offset: int, file: str) -> Location:
    before = text_or_bytes[:offset]
    newline = b"\n" if isinstance(before, bytes) else "\n"
    line = before.count(newline) + 1
    column = offset - (before.rfind(newline) + 1) + 1
    return Location(file, line, column)


def _decode(raw: bytes, file: str) -> str:
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise _LoadError(Diagnostic("CX103", "file contains NUL bytes: this is a binary file, not YAML", _position(raw, nul, file)))
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _LoadError(Diagnostic(
            "CX104", f"byte 0x{raw[error.start]:02x} is not valid UTF-8", _position(raw, error.start, file),
            hint="re-save the file as UTF-8 (e.g. `iconv -f GBK -t UTF-8`)")) from None


def _compose(text: str, file: str, limits: LoadLimits) -> tuple[Document, list[Diagnostic]]:
    if _may_hold_too_many_nodes(text, limits.max_nodes):
        _count_nodes(text, file, limits.max_nodes)
    loader = _Loader(text)
    try:
        if not loader.check_node():
            raise _LoadError(Diagnostic("CX107", "file is empty: expected an org or fragment", Location(file), hint=_EMPTY_HINT))
        root = loader.get_node()
        if loader.check_node():
            raise _LoadError(Diagnostic(
                "CX106", "a second YAML document starts here; an org file holds exactly one",
                _second_document(text, root, loader.peek_event(), file),
                hint="move it into a file of its own and join the files with `include`"))
    except yaml.MarkedYAMLError as error:
        raise _LoadError(_syntax_diagnostic(error, text, file)) from None
    except yaml.YAMLError as error:  # errors without a position (rare)
        raise _LoadError(Diagnostic("CX100", f"invalid YAML: {error}", Location(file))) from None
    finally:
        loader.dispose()
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _TAG + "null" and not root.value):
        raise _LoadError(Diagnostic("CX107", "file is empty: expected an org or fragment", Location(file), hint=_EMPTY_HINT))
    builder = _Builder(file, limits, aliases="*" in text)  # an alias is written `*name`
    data = builder.build(root, (), 0, None)
    return Document(file, data, MappingProxyType(builder.positions), MappingProxyType(builder.surprises)), builder.problems


_EMPTY_HINT = "an org file starts with `apiVersion: cxrules/v1`; the files in orgs/ are complete examples"
_INDICATORS = ",[{:?-\n"


def _may_hold_too_many_nodes(text: str, max_nodes: int) -> bool:
    """Whether ``text`` could hold more than ``max_nodes`` nodes, judged from its YAML indicators alone.

    Every node but the first follows a `,` `[` `{` `:` `?` `-` or line break, and one such
    character starts at most three nodes (`{a}`: the mapping, the key and its empty value).
    Counting them costs a few milliseconds, against seconds for counting the nodes; an org of
    any real size stays far below the bound, so only hostile files pay for :func:`_count_nodes`.
    """
    return 3 * sum(text.count(char) for char in _INDICATORS) + 2 > max_nodes


_NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)


def _count_nodes(text: str, file: str, max_nodes: int) -> None:
    """Refuse a file of more than ``max_nodes`` nodes (CX108) from its parse events, before composing it.

    Composing keeps every node in memory (a few hundred bytes each with its marks): a 10 MB
    file of `1, 1, 1, …` is three million nodes and gigabytes. The events are counted and
    dropped, so this stops at the limit in constant memory. Syntax errors are left to the
    composer, which reports them with their position.
    """
    parser = _Loader(text)
    try:
        count, next_event = 0, parser.get_event
        while parser.check_event():
            event = next_event()
            if isinstance(event, _NODE_EVENTS):
                count += 1
                if count > max_nodes:
                    raise _LoadError(_too_many_nodes(max_nodes, _mark(event.start_mark, file)))
    except yaml.YAMLError:
        return
    finally:
        parser.dispose()


def _too_many_nodes(max_nodes: int, where: Location) -> Diagnostic:
    return Diagnostic("CX108", f"too many values: the file holds more than {max_nodes:,} YAML nodes (keys, values and list items), "
                      f"the most an org file may hold", where,
                      hint="check that this is the org file you meant (not a data file); a real org holds a few thousand")


def _second_document(text: str, first, event, file: str) -> Location:
    """Where the second document starts: its `---` line if there is one, else the parser's mark."""
    marker = re.compile(r"^---", re.MULTILINE).search(text, first.end_mark.index)
    if marker:
        return _position(text, marker.start(), file)
    return _mark(event.start_mark, file)


def _mark(mark, file: str) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


_CONTEXTS_AT_THE_MISTAKE = ("while scanning a simple key", "while parsing a flow", "while scanning a quoted scalar")


def _syntax_diagnostic(error: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    """Point at the mistake itself: an unclosed `[` or a key without `:`, not where parsing gave up.

    Where the cause is recognisable, name it and say the fix: a full-width or typographic
    lookalike of YAML punctuation (`label：投诉专员`), a key indented to a column that no key
    above it uses, or a `: ` inside a plain value.
    """
    mark = error.problem_mark or error.context_mark
    if error.context_mark and error.context and error.context.startswith(_CONTEXTS_AT_THE_MISTAKE):
        mark = error.context_mark
    location = _mark(mark, file) if mark else Location(file)
    problem = (error.problem or "invalid YAML").strip()
    if mark is not None and (text[mark.index:mark.index + 1] == "\t" or "tab" in problem):
        return Diagnostic("CX105", "tab character used for indentation", location, hint="indent with spaces")
    if error.problem_mark is not None:
        lines = text.split("\n")
        explained = _lookalike(lines, error.problem_mark, error.context_mark, file) or _misplaced(lines, error.problem_mark, problem, file)
        if explained is not None:
            return explained
    message = problem
    if error.context and mark is not None:
        message = f"{problem} ({error.context.strip()}"
        other = error.problem_mark if mark is error.context_mark else error.context_mark
        if other is not None and other.line != mark.line:
            message += f"; noticed at line {other.line + 1}" if mark is error.context_mark else f" at line {other.line + 1}"
        message += ")"
    return Diagnostic("CX100", f"invalid YAML: {message}", location)


LOOKALIKES = {
    "：": ("full-width colon", ":"),
    "；": ("full-width semicolon", ":"),
    "，": ("full-width comma", ","),
    "、": ("ideographic comma", ","),
    "“": ("left double quotation mark", '"'),
    "”": ("right double quotation mark", '"'),
    "‘": ("left single quotation mark", "'"),
    "’": ("right single quotation mark", "'"),
    "＂": ("full-width quotation mark", '"'),
    "＇": ("full-width apostrophe", "'"),
    "［": ("full-width left square bracket", "["),
    "］": ("full-width right square bracket", "]"),
    "｛": ("full-width left curly bracket", "{"),
    "｝": ("full-width right curly bracket", "}"),
    "－": ("full-width hyphen-minus", "-"),
    "\u3000": ("full-width space", " "),
}
"""Characters a Chinese input method types in place of YAML's punctuation, with what YAML needs."""

_OPENERS, _CLOSERS = "“‘＂＇［｛", "”’＂＇］｝"
_KEY = r"[A-Za-z_][\w.-]*"
_LINE_START = re.compile(r"^[ \u3000]*(?:-[ \u3000]+)*")


def _flow_depth(before: str) -> int:
    """How many `[` / `{` are open at the end of ``before`` (quoted text skipped)."""
    depth = 0
    for part in re.sub(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'", "", before):
        depth += part in "[{"
        depth -= part in "]}" and depth > 0
    return depth


def _structural(line: str, index: int, opened: bool = False) -> bool:
    """Whether the lookalike at ``index`` stands where YAML punctuation would (not in prose).

    `：` right after a plain ASCII key, `，` inside `[...]`/`{...}`, a quote or bracket where a
    value starts, a full-width space in the indentation or around a key's colon. Chinese text
    in values (`name: 投诉：售后`) is left alone. ``opened``: a lookalike opening quote or
    bracket stands earlier on the line, so a closing one counts too.
    """
    char, before = line[index], line[:index]
    lead = _LINE_START.sub("", before)
    in_flow = _flow_depth(before) > 0
    value_starts = (re.fullmatch(rf"[ \u3000]*(?:-[ \u3000]+)*(?:{_KEY}[ \u3000]*:[ \u3000]+)?", before) is not None
                    or in_flow and re.search(r"[\[{,][ \u3000]*$", before) is not None)
    if char in "：；":  # `；` sits next to `：` on Chinese keyboards
        return re.fullmatch(rf"{_KEY}[ \u3000]*", lead) is not None or in_flow and re.search(rf"[{{,]\s*{_KEY}\s*$", before) is not None
    if char == "\u3000":
        return lead == "" or re.fullmatch(rf"{_KEY}:?", lead) is not None
    if char in "，、":
        return in_flow
    if char == "－":
        return lead == "" and line[index + 1:index + 2] == " "
    if char in _OPENERS and value_starts:
        return True
    if char in _CLOSERS:
        return in_flow or opened
    return False


def _lookalikes(line: str) -> list[int]:
    """Where ``line`` holds lookalikes of YAML punctuation in places that matter (long lines are not searched)."""
    found: list[int] = []
    if len(line) > 2000:
        return found
    opened = False
    for index, char in enumerate(line):
        if char in LOOKALIKES and _structural(line, index, opened):
            found.append(index)
            opened = opened or char in _OPENERS
    return found


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _lookalike(lines: list[str], mark: yaml.Mark, context: yaml.Mark | None, file: str) -> Diagnostic | None:
    """A full-width `：` (or another lookalike) near where the parser gave up (``mark``), with its fix."""
    last = min(mark.line, len(lines) - 1)
    order = [last]
    if context is not None and context.line < last:
        order.append(context.line)
    depth = _indent(lines[last]) if lines[last].strip() else len(lines[last]) + 1
    for number in range(last - 1, max(-1, last - 11), -1):  # the block the failing line belongs to
        if number not in order:
            order.append(number)
        if lines[number].strip() and not lines[number].lstrip().startswith("#") and _indent(lines[number]) < depth:
            break
    found = None
    for number in order:
        indices = _lookalikes(lines[number])
        if number == mark.line and indices:  # nearest before where the parser stopped, else the first
            before = [i for i in indices if i <= mark.column]
            found = (number, before[-1] if before else indices[0], indices)
        elif indices:
            found = (number, indices[0], indices)
        if found:
            break
    if found is None:
        return None
    number, index, indices = found
    char = lines[number][index]
    name, ascii_form = LOOKALIKES[char]
    replacement = "an ordinary space" if ascii_form == " " else f"`{ascii_form}`"
    hint = f"replace `{char}` ({name}) with {replacement}"
    others = [i for i in indices if i != index]
    if others:
        hint += "; also " + ", ".join(f"`{lines[number][i]}` at column {i + 1}" for i in others[:5])
    return Diagnostic("CX100", f"invalid YAML: `{char}` ({name}, U+{ord(char):04X}) where YAML expects {replacement}",
                      Location(file, number + 1, index + 1), hint=hint)


_INDENTATION_PROBLEMS = ("mapping values are not allowed", "did not find expected key", "did not find expected '-' indicator",
                         "expected <block end>")


def _misplaced(lines: list[str], mark: yaml.Mark, problem: str, file: str) -> Diagnostic | None:
    """A key indented to a column no key above it uses, or a `: ` inside a plain value (``mark``: where the parser stopped)."""
    if not problem.startswith(_INDENTATION_PROBLEMS):
        return None
    if mark.line >= len(lines) or not lines[mark.line].strip():
        return None
    line = lines[mark.line]
    column = _indent(line)
    dash = line[column:column + 2] in ("- ", "-")
    token = "-" if dash else re.split(r"\s*:(?:\s|$)|\s", line[column:], maxsplit=1)[0][:40]
    target = _sibling_column(lines, mark.line, column, dash)
    if target is not None and target[0] != column:
        where, example = target[1] + 1, lines[target[1]].strip()[:40]
        if dash:
            return Diagnostic("CX100", f"invalid YAML: this list item starts at column {column + 1}, out of line with the item above it "
                              f"(line {where}, column {target[0] + 1})", Location(file, mark.line + 1, column + 1),
                              hint=f"indent the `-` to column {target[0] + 1}, like the item on line {where}")
        sibling = _LINE_START.sub("", lines[target[1]]).split(":")[0].strip()[:40]
        return Diagnostic("CX100", f"invalid YAML: `{token}` starts at column {column + 1}, out of line with the keys above it "
                          f"(`{sibling or example}` on line {where} starts at column {target[0] + 1})",
                          Location(file, mark.line + 1, column + 1),
                          hint=f"indent `{token}` to column {target[0] + 1}, like `{sibling or example}` on line {where}")
    first_colon = re.search(r":(?:\s|$)", line)
    if problem.startswith("mapping values") and first_colon and mark.column > first_colon.start():
        key, value = line[:first_colon.start()].strip(), line[first_colon.end():].strip()
        key = _LINE_START.sub("", key)
        quoted = f'`{key}: "{value}"`' if len(value) <= 60 and '"' not in value and "#" not in value else "quotes"
        return Diagnostic("CX100", f"invalid YAML: `: ` inside the value of `{key}`; YAML reads it as the start of another key",
                          Location(file, mark.line + 1, mark.column + 1), hint=f"put the value in quotes: {quoted}"
                          if quoted != "quotes" else "put the value in double quotes")
    return None


def _sibling_column(lines: list[str], number: int, column: int, dash: bool) -> tuple[int, int] | None:
    """The column (0-based) the line ``number`` should start at, and the line showing it.

    Walks up through the enclosing blocks: a key lines up with the keys of the nearest
    block it can belong to (deeper than that block's parent), a `-` with the item above.
    """
    chain: list[tuple[int, int, int | None, int]] = []  # (indent, key column, dash column, line) of the enclosing lines, nearest first
    limit = None
    for above in range(number - 1, -1, -1):
        text = lines[above]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        indent = _indent(text)
        if limit is not None and indent >= limit:
            continue
        if not chain and text.rstrip().endswith(":") and column > indent:
            return None  # the first line of a block that the line above opens: any deeper column will do
        key_column = len(text) - len(_LINE_START.sub("", text, count=1))
        chain.append((indent, key_column, indent if text[indent:indent + 1] == "-" else None, above))
        limit = indent
        if indent == 0:
            break
    for level, (indent, key_column, dash_column, above) in enumerate(chain):
        parent = chain[level + 1][0] if level + 1 < len(chain) else -1
        wanted = dash_column if dash else key_column
        if wanted is None:
            continue
        if column > parent or level + 1 == len(chain):
            return wanted, above
    return None


class _Builder:
    """Turns composed nodes into plain data, recording positions and refusing duplicates.

    Building runs once per node, and a large org has hundreds of thousands, most of them text
    values; so when the text holds no alias (no `*`), where no node can be met twice and none
    need be remembered, the loops over a mapping's or a list's values build text values in
    line: what :meth:`build` and :meth:`_scalar` would do for them, without the calls.
    """

    def __init__(self, file: str, limits: LoadLimits, aliases: bool = True):
        self.file = file
        self.limits = limits
        self.positions: dict[JsonPath, tuple[int, int, int, int]] = {}
        self.surprises: dict[JsonPath, str] = {}
        self.problems: list[Diagnostic] = []
        self.aliases = aliases
        """Whether the text may hold aliases; only then is each node built remembered in ``done``."""
        self.done: dict[int, tuple[Any, int]] = {}
        self.total = 0
        self.expanded = 0
        """Of ``total``, the nodes that aliases added."""
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node, path: JsonPath, depth: int, key_node) -> Any:
        mark = node.start_mark
        key_mark = mark if key_node is None else key_node.start_mark
        self.positions[path] = (key_mark.line + 1, key_mark.column + 1, mark.line + 1, mark.column + 1)
        shared = self.done.get(id(node)) if self.aliases else None
        if shared is not None:  # an alias: share the value, but count its expanded size
            value, size = shared
            self.expanded += size
            self._count(size, path, key_node, node)
            return value
        if depth > self.limits.max_depth:
            raise _LoadError(Diagnostic("CX109", f"nesting deeper than {self.limits.max_depth} levels", self._where(node)))
        before = self.total
        self._count(1, path, key_node, node)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in (_MAP, _SEQ):
            raise _LoadError(Diagnostic("CX109", f"unsupported YAML tag `{node.tag}`", self._where(node), hint="remove the tag"))
        if isinstance(node, yaml.MappingNode):
            value = self._mapping(node, path, depth)
        elif isinstance(node, yaml.SequenceNode):
            value = self._sequence(node, path, depth)
        else:
            value = self._scalar(node, path)
        if self.aliases:
            self.done[id(node)] = (value, self.total - before)
        return value

    def _count(self, size: int, path: JsonPath, key_node, node) -> None:
        """Count ``size`` more nodes for ``node`` (at ``path``); past the limit, say whether the file or its aliases are to blame."""
        self.total += size
        if self.total > self.limits.max_nodes:
            if self.total - self.expanded > self.limits.max_nodes:  # the file itself is that big, aliases or not
                raise _LoadError(_too_many_nodes(self.limits.max_nodes, self._where(node)))
            keyed = path
            while keyed and not isinstance(keyed[-1], str):
                keyed = keyed[:-1]  # list items of an alias carry the anchor's position: use their key
            where = Location(self.file, *self.positions[keyed][:2]) if keyed else Location(self.file)
            raise _LoadError(Diagnostic(
                "CX108", f"aliases expand to more than {self.limits.max_nodes:,} values", where,
                hint="write repeated content out instead of nesting aliases"))

    def _where(self, node) -> Location:
        return _mark(node.start_mark, self.file)

    def _in_line(self, depth: int) -> bool:
        """Whether text values at ``depth`` may be built in line: no aliases, and not too deep (which :meth:`build` refuses)."""
        return not self.aliases and depth <= self.limits.max_depth

    def _sequence(self, node: yaml.SequenceNode, path: JsonPath, depth: int) -> list:
        depth += 1
        if not self._in_line(depth):
            return [self.build(item, path + (index,), depth, None) for index, item in enumerate(node.value)]
        result = []
        positions, limit = self.positions, self.limits.max_nodes
        for index, item in enumerate(node.value):
            if item.__class__ is yaml.ScalarNode and item.tag == _STR:  # as build(item, path + (index,), depth, None)
                mark = item.start_mark
                line, column = mark.line + 1, mark.column + 1
                positions[path + (index,)] = (line, column, line, column)
                self.total += 1
                if self.total > limit:
                    self._count(0, path + (index,), None, item)
                result.append(item.value)
            else:
                result.append(self.build(item, path + (index,), depth, None))
        return result

    def _mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict:
        result: dict[str, Any] = {}
        first_seen: dict[str, Any] = {}
        merged: list[dict] = []
        in_line = self._in_line(depth + 1)
        positions, limit = self.positions, self.limits.max_nodes
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    value = self.build(source, path, depth + 1, key_node)
                    if not isinstance(value, dict):
                        raise _LoadError(Diagnostic("CX109", "`<<` merges mappings only", self._where(source)))
                    merged.append(value)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _LoadError(Diagnostic("CX109", "keys must be plain text, not lists or mappings", self._where(key_node)))
            key = key_node.value  # the text as written: `on`, `no` and `1` stay strings
            if key in first_seen:
                first = first_seen[key]
                self.problems.append(Diagnostic(
                    "CX101", f"duplicate key `{key}`: YAML would silently keep only the last one",
                    self._where(key_node),
                    hint="remove or rename one of the two",
                    related=(Related(_mark(first.start_mark, self.file), f"`{key}` first defined here"),)))
                continue  # keep the first, so later layers still check the rest of the file
            first_seen[key] = key_node
            self.total += 1  # keys are nodes too
            if self.total > limit:
                self._count(0, path, None, key_node)
            if in_line and value_node.__class__ is yaml.ScalarNode and value_node.tag == _STR:  # as build(value_node, ...) below
                key_mark, mark = key_node.start_mark, value_node.start_mark
                positions[path + (key,)] = (key_mark.line + 1, key_mark.column + 1, mark.line + 1, mark.column + 1)
                self.total += 1
                if self.total > limit:
                    self._count(0, path + (key,), None, value_node)
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node, path + (key,), depth + 1, key_node)
        for source in merged:
            for key, value in source.items():
                result.setdefault(key, value)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        tag = node.tag
        if tag == _TIMESTAMP:
            return node.value  # dates stay text: the schema checks their form, the model parses them
        if tag not in _SCALAR_TAGS:
            raise _LoadError(Diagnostic("CX109", f"unsupported YAML tag `{tag}`", self._where(node), hint="remove the tag"))
        try:
            value = self.constructor.construct_object(node)
        except (yaml.constructor.ConstructorError, ValueError, OverflowError) as error:
            raise _LoadError(Diagnostic("CX100", f"invalid value: {error}", self._where(node))) from None
        if not node.style and not isinstance(value, str) and _is_surprising(node.value, value):
            self.surprises[path] = node.value
        return value


# ---------------------------------------------------------------- includes

INCLUDE_SUFFIXES = (".yaml", ".yml")
_DECLARES_ORG = re.compile(r"""^\s*["']?apiVersion["']?\s*:\s*["']?cxrules/""", re.MULTILINE)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def resolve_include(entry: str, including_folder: Path, org_folder: Path, where: Location) -> Path | Diagnostic | None:
    """Where an `include` entry leads (every symlink resolved), or the diagnostic at the entry that refuses it.

    Includes stay inside the org's folder (the folder of the main file, and below): an
    absolute path, a `..` that climbs out, or a symlink whose target lies outside is refused
    (CX134) without touching the file; a symlink that loops is refused too (CX135). A name
    without a `.yaml`/`.yml` suffix is refused with None: the schema's pattern for `include`
    entries reports it (CX114), once. A control character (a NUL byte from `"a\\0.yaml"`, a
    line break) cannot be part of a file name: CX114 at the entry.
    """
    if not entry.endswith(INCLUDE_SUFFIXES):
        return None
    controls = _CONTROL_CHARACTER.findall(entry)
    if controls:
        shown = _CONTROL_CHARACTER.sub(lambda m: f"\\x{ord(m.group()):02x}", entry)
        names = ", ".join(dict.fromkeys(f"U+{ord(c):04X}" for c in controls))
        return Diagnostic("CX114", f"include path `{shown}` holds a control character ({names}); a file name cannot",
                          where, hint="remove it: in a double-quoted YAML string, `\\0`, `\\n` or `\\t` writes one")
    outside = "copy the file into the org's folder and include it by a path relative to the including file"
    if os.path.isabs(entry) or entry.startswith(("\\", "/")) or re.match(r"[A-Za-z]:", entry):
        return Diagnostic("CX134", f"`{entry}` is an absolute path; includes are relative to the including file and stay inside "
                          f"the org's folder", where, hint=outside)
    folder = os.path.realpath(org_folder)
    written = os.path.normpath(os.path.join(including_folder, entry))
    if not _inside(written, folder) and not _inside(written, os.path.normpath(os.path.abspath(org_folder))):
        return Diagnostic("CX134", f"`{entry}` leads out of the org's folder `{_shown_folder(org_folder)}`", where, hint=outside)
    target = os.path.realpath(written)
    if not _inside(target, folder):
        return Diagnostic("CX134", f"`{entry}` goes through a symlink to a place outside the org's folder `{_shown_folder(org_folder)}`",
                          where, hint=outside)
    if _loops(written):
        return Diagnostic("CX135", f"included file `{entry}` is a symlink that loops (it leads back to itself), not a file", where,
                          hint="point the symlink at the fragment, or include the fragment itself")
    return Path(target)


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _loops(path) -> bool:
    """Whether following the symlinks of ``path`` never ends (ELOOP); other errors are left to the reader."""
    try:
        os.stat(path)
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def _shown_folder(folder: Path) -> str:
    try:
        return str(Path(folder).resolve().relative_to(Path.cwd())) or "."
    except ValueError:
        return str(folder)


def load_included(target: Path, entry: str, where: Location, limits: LoadLimits = LoadLimits(),
                  display: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read an included file that :func:`resolve_include` let through.

    A file that is not an org file (not a regular file, binary, not YAML, or YAML without
    `apiVersion: cxrules/...`) gets one diagnostic at the include entry (CX135) that quotes
    nothing of it: a stray config file, or a secret reached by a typo, is never printed.
    I/O errors come back as CX001 at the file, for the caller to word as CX130.
    """
    shown = display or str(target)
    not_org = "include only org fragments (`apiVersion: cxrules/v1`, `kind: Fragment`)"
    try:
        raw = read_regular(target, limits.max_bytes, follow=False)
    except FileTooLarge as error:
        return None, [_too_large(error.size, limits, shown, where, entry)]
    except NotRegularFile as error:
        return None, [Diagnostic("CX135", f"included file `{entry}` is {error.kind}, not a regular file", where, hint=not_org)]
    except OSError as error:
        return None, [Diagnostic("CX001", f"cannot read file: {error.strerror or error}", Location(shown))]
    document, problems = load_text(raw, shown, limits)
    if document is not None:
        data = document.data
        is_org = isinstance(data, dict) and isinstance(data.get("apiVersion"), str) and data["apiVersion"].startswith("cxrules/")
    else:
        is_org = b"\x00" not in raw and bool(_DECLARES_ORG.search(raw[:65536].decode("utf-8", "replace")))
    if not is_org:
        reason = next((p.message for p in problems if p.code in ("CX103", "CX104")), None)
        why = ("it is binary" if reason and "NUL" in reason else "it is not UTF-8 text" if reason
               else "it is empty" if any(p.code == "CX107" for p in problems)
               else "it does not declare `apiVersion: cxrules/v1`")
        return None, [Diagnostic("CX135", f"included file `{entry}` is not an org file: {why}", where, hint=not_org)]
    return document, problems


def org_files(paths) -> tuple[list[Path], list[Diagnostic]]:
    """The org files named by ``paths``: files as given, folders searched for org files.

    In folders, a YAML file counts as an org when it declares `apiVersion: cxrules/...`
    (so CI configs and other YAML beside it are left alone) and is not a fragment:
    fragments are read through the `include` of the org that uses them. A `*.yaml` that is
    not a regular file (a FIFO would hang the scan) or is a symlink leading out of the
    scanned folder is not read but reported (CX001), as an unreadable file is.
    """
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            top = os.path.realpath(path)
            candidates = []
            for folder, subfolders, names in os.walk(path, onerror=lambda error: problems.append(
                    Diagnostic("CX001", f"cannot read folder: {error.strerror}", Location(str(error.filename))))):
                subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
                for name in sorted(names):
                    if not name.endswith(INCLUDE_SUFFIXES):
                        continue
                    candidate = Path(folder) / name
                    refusal = _not_scanned(candidate, top)
                    if refusal is None:  # a symlink to elsewhere in the scanned folder is read as its target
                        link = os.path.islink(candidate) and not _inside(os.path.realpath(candidate), os.path.realpath(folder))
                        candidates.append(Path(os.path.realpath(candidate)) if link else candidate)
                    else:
                        problems.append(refusal)
            roots = [p for p in candidates if _is_org_root(p)]
            if not roots:
                problems.append(Diagnostic("CX001", "folder holds no org files (*.yaml or *.yml with `apiVersion: cxrules/v1`)", Location(str(path))))
            found.extend(roots)
        elif path.is_symlink() or path.exists():  # a symlink: reading it says where it leads, or that it loops
            found.append(path)
        else:
            problems.append(Diagnostic("CX001", "no such file or folder", Location(str(path))))
    return found, problems


def _not_scanned(path: Path, top: str) -> Diagnostic | None:
    """Why a folder scan must not read ``path``: a symlink out of the folder, or not a regular file."""
    try:
        if path.is_symlink():
            target = os.path.realpath(path)
            if not _inside(target, top):
                return Diagnostic("CX001", f"is a symlink to `{target}`, outside the scanned folder; not followed", Location(str(path)),
                                  hint="to check that file, name it (or its folder) on the command line")
        kind = _kind(os.stat(path).st_mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Diagnostic("CX001", "is a symlink that loops (it leads back to itself); not read", Location(str(path)),
                              hint="point the symlink at an org file, or remove it")
        return None  # unreadable: counted as an org so that reading it reports why
    if kind is None:
        return None
    return Diagnostic("CX001", f"is {kind}, not a regular file; not read", Location(str(path)),
                      hint="org files are regular files; remove it or rename it so that it does not end in .yaml")


def open_regular_binary(path) -> io.BufferedReader:
    """A regular file (never a FIFO or device, checked on the opened descriptor) opened to stream its bytes.

    For readers that decode the text themselves and must not have bad bytes replaced (ticket logs).
    """
    return io.BufferedReader(io.FileIO(_open_regular(path, 1 << 62), "r", closefd=True), buffer_size=1 << 16)


def read_head(path, size: int = 8192) -> str:
    """The first ``size`` bytes of a regular file as text, to tell what kind of file it is; OSError otherwise.

    A symlink named by the user is followed only as :func:`load_file` would follow it.
    """
    if named_link_refusal(path) is not None:
        raise NotRegularFile(path, "a symlink leading out of its folder")
    fd = _open_regular(path, 1 << 62)
    try:
        return os.read(fd, size).decode("utf-8", "replace")
    finally:
        os.close(fd)


MAPPING_KIND, MODEL_KIND = "TicketLogMapping", "SimulationModel"
"""The kinds of the simulation's files: a ticket-log mapping and a calibrated model."""
NOT_ORGS = ("Fragment", MAPPING_KIND, MODEL_KIND)
"""Kinds of cxrules file that are no org of their own: fragments are read through their org; log mappings and
simulation models are checked by their own readers."""


def file_kind(path) -> Optional[str]:
    """The top-level `kind:` of a cxrules file (`apiVersion: cxrules/...`), from its first 8 kB: `Organisation` when
    it names none; None for a file that is no cxrules file. OSError when it cannot be read."""
    lines = [line.split("#")[0].strip().replace('"', "").replace("'", "") for line in read_head(path).splitlines()
             if line[:1] not in (" ", "\t")]
    if not any(line.replace(" ", "").startswith("apiVersion:cxrules/") for line in lines):
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.replace(" ", "").startswith("kind:")), "Organisation")


def _is_org_root(path: Path) -> bool:
    """An org file (not a fragment, a log mapping or a model); unreadable files count, so they get reported."""
    try:
        kind = file_kind(path)
    except OSError:
        return True
    return kind is not None and kind not in NOT_ORGS