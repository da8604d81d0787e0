"""Read YAML into plain data while remembering where every key and value came from.

PyYAML's composer already knows the position of every node; its constructor throws that
away and silently keeps the last of two equal keys. So we compose with libyaml (when
present) and build the data ourselves: each value is recorded under its path
(``("roles", 3, "reports_to")``) with the line and column of its key and of the value.

Hostile input ends in exactly one diagnostic, quickly and in bounded memory: files above a
size limit are refused before reading, binary and non-UTF-8 files before parsing, and
aliases are never copied (equal subtrees are shared) while their expanded size is counted
against a budget, which stops "billion laughs" files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from .diagnostics import Diagnostic, Location, Related

__all__ = ["Document", "LoadLimits", "load_file", "load_text", "org_files", "JsonPath"]

JsonPath = tuple[Any, ...]

try:  # libyaml is ~10x faster; PyYAML's wheels ship it, source builds may not
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str")}
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


def load_file(path: str | os.PathLike, limits: LoadLimits = LoadLimits(), display: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read one YAML file; returns the document or the one diagnostic that stopped it."""
    shown = display or str(path)
    try:
        size = os.stat(path).st_size
        if size > limits.max_bytes:
            return None, [Diagnostic(
                "CX102",
                f"file is {size / 1048576:.1f} MB; org files are read up to {limits.max_bytes / 1048576:.0f} MB",
                Location(shown), hint="split the org into fragments with `include`, or check that this is the right file")]
        with open(path, "rb") as stream:
            raw = stream.read(limits.max_bytes + 1)
    except IsADirectoryError:
        return None, [Diagnostic("CX001", "is a folder, expected a YAML file", Location(shown))]
    except OSError as error:
        return None, [Diagnostic("CX001", f"cannot read file: {error.strerror or error}", Location(shown))]
    return load_text(raw, shown, limits)


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
    builder = _Builder(file, limits)
    data = builder.build(root, (), 0, None)
    return Document(file, data, MappingProxyType(builder.positions), MappingProxyType(builder.surprises)), builder.problems


_EMPTY_HINT = "an org file starts with `apiVersion: cxrules/v1`; the files in orgs/ are complete examples"


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
    """Point at the mistake itself: an unclosed `[` or a key without `:`, not where parsing gave up."""
    mark = error.problem_mark or error.context_mark
    if error.context_mark and error.context and error.context.startswith(_CONTEXTS_AT_THE_MISTAKE):
        mark = error.context_mark
    location = _mark(mark, file) if mark else Location(file)
    problem = (error.problem or "invalid YAML").strip()
    if mark is not None and (text[mark.index:mark.index + 1] == "\t" or "tab" in problem):
        return Diagnostic("CX105", "tab character used for indentation", location, hint="indent with spaces")
    message = problem
    if error.context:
        message = f"{problem} ({error.context.strip()}"
        other = error.problem_mark if mark is error.context_mark else error.context_mark
        if other is not None and other.line != mark.line:
            message += f"; noticed at line {other.line + 1}" if mark is error.context_mark else f" at line {other.line + 1}"
        message += ")"
    return Diagnostic("CX100", f"invalid YAML: {message}", location)


class _Builder:
    """Turns composed nodes into plain data, recording positions and refusing duplicates."""

    def __init__(self, file: str, limits: LoadLimits):
        self.file = file
        self.limits = limits
        self.positions: dict[JsonPath, tuple[int, int, int, int]] = {}
        self.surprises: dict[JsonPath, str] = {}
        self.problems: list[Diagnostic] = []
        self.done: dict[int, tuple[Any, int]] = {}
        self.total = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node, path: JsonPath, depth: int, key_node) -> Any:
        key_mark = (key_node or node).start_mark
        self.positions[path] = (key_mark.line + 1, key_mark.column + 1, node.start_mark.line + 1, node.start_mark.column + 1)
        shared = self.done.get(id(node))
        if shared is not None:  # an alias: share the value, but count its expanded size
            value, size = shared
            self._count(size, path, key_node)
            return value
        if depth > self.limits.max_depth:
            raise _LoadError(Diagnostic("CX109", f"nesting deeper than {self.limits.max_depth} levels", self._where(node)))
        before = self.total
        self._count(1, path, key_node)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in (_TAG + "map", _TAG + "seq"):
            raise _LoadError(Diagnostic("CX109", f"unsupported YAML tag `{node.tag}`", self._where(node), hint="remove the tag"))
        if isinstance(node, yaml.MappingNode):
            value = self._mapping(node, path, depth)
        elif isinstance(node, yaml.SequenceNode):
            value = [self.build(item, path + (index,), depth + 1, None) for index, item in enumerate(node.value)]
        else:
            value = self._scalar(node, path)
        self.done[id(node)] = (value, self.total - before)
        return value

    def _count(self, size: int, path: JsonPath, key_node) -> None:
        self.total += size
        if self.total > self.limits.max_nodes:
            keyed = path
            while keyed and not isinstance(keyed[-1], str):
                keyed = keyed[:-1]  # list items of an alias carry the anchor's position: use their key
            where = Location(self.file, *self.positions[keyed][:2]) if keyed else Location(self.file)
            raise _LoadError(Diagnostic(
                "CX108", f"aliases expand to more than {self.limits.max_nodes:,} values", where,
                hint="write repeated content out instead of nesting aliases"))

    def _where(self, node) -> Location:
        return _mark(node.start_mark, self.file)

    def _mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict:
        result: dict[str, Any] = {}
        first_seen: dict[str, Any] = {}
        merged: list[dict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
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
            result[key] = self.build(value_node, path + (key,), depth + 1, key_node)
        for source in merged:
            for key, value in source.items():
                result.setdefault(key, value)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        tag = node.tag
        if tag == _TAG + "timestamp":
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


def org_files(paths) -> tuple[list[Path], list[Diagnostic]]:
    """The org files named by ``paths``: files as given, folders searched for org files.

    In folders, a YAML file counts as an org when it declares `apiVersion: cxrules/...`
    (so CI configs and other YAML beside it are left alone) and is not a fragment:
    fragments are read through the `include` of the org that uses them.
    """
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = []
            for folder, subfolders, names in os.walk(path, onerror=lambda error: problems.append(
                    Diagnostic("CX001", f"cannot read folder: {error.strerror}", Location(str(error.filename))))):
                subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
                candidates += [Path(folder) / name for name in sorted(names) if name.endswith((".yaml", ".yml"))]
            roots = [p for p in candidates if _is_org_root(p)]
            if not roots:
                problems.append(Diagnostic("CX001", "folder holds no org files (*.yaml or *.yml with `apiVersion: cxrules/v1`)", Location(str(path))))
            found.extend(roots)
        elif path.exists():
            found.append(path)
        else:
            problems.append(Diagnostic("CX001", "no such file or folder", Location(str(path))))
    return found, problems


def _is_org_root(path: Path) -> bool:
    """An org file (not a fragment, not a log mapping); unreadable files count, so they get reported."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(8192).decode("utf-8", "replace")
    except OSError:
        return True
    lines = [line.split("#")[0].strip().replace('"', "").replace("'", "") for line in head.splitlines()]
    return (any(line.startswith("apiVersion: cxrules/") for line in lines)
            and not any(line in ("kind: Fragment", "kind: TicketLogMapping") for line in lines))
