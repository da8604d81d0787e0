"""Validation's fast paths do exactly what the general ways they stand in for do.

Validating a large org runs close to the YAML parse (issue #16) through three shortcuts: the
loader builds text values in line when the file holds no alias, the schema gate runs
fastjsonschema's code without what only its messages need, and the reference checks follow
plain key paths straight down. Each is checked here against the general way, on the shipped
orgs, the example files and odd shapes. Nothing here measures time.
"""

from __future__ import annotations

import copy
import random

import jsonschema
import pytest

from cxrules import schema
from cxrules.loading import LoadLimits, _Builder, _Loader, _LoadError, load_text
from cxrules.validation import _REFERENCES, _walk, _walker

from conftest import EXAMPLES, SEED_ORGS

ODD_TEXTS = [
    "a: 1\nb: [x, 'y', \"z\", 2, no, 9:00, ~, 1.5, 2024-01-01]\nc: {d: {e: [[f], [g, {h: i}]]}}\n",
    "a: x\na: y\nb:\n  c: 1\n  c: 2\n",  # duplicate keys
    "base: {x: 1, y: two}\nmerged:\n  <<: {x: 3, z: 4}\n  y: own\n",  # a merge without an alias
    "m:\n  <<: [{a: 1}, {b: 2}]\n  c: 3\n",
    "a: !!str 1\nb: !!int '2'\nc: !!float 3\nd: !!bool yes\ne: !!null ''\n",
    "a: !custom x\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x, y}\n",
    "- [1, [2, [3, [4, [5, [6]]]]]]\n- {a: {b: {c: {d: {e: {}}}}}}\n",
    "? [a, b]\n: c\n",
    "a: <<\nb: [<<, '<<']\n",
    "country: NO\nat: 09:30\nzip: 0123\nflag: off\nplain: 'on'\n",
    "a: 99999999999999999999999999\nb: 1_000\nc: 0x1F\nd: .inf\n",
    "roles:\n" + "".join(f"  - id: r{i}\n    name: Role {i}\n    handles: [c{i}, c{i + 1}]\n" for i in range(30)),
]
LIMITS = [LoadLimits(), LoadLimits(max_nodes=5), LoadLimits(max_nodes=23), LoadLimits(max_nodes=120),
          LoadLimits(max_depth=1), LoadLimits(max_depth=2), LoadLimits(max_depth=4)]


def _alias_free_files() -> list:
    files = [*SEED_ORGS, *sorted(EXAMPLES.rglob("*.yaml"))]
    return [path for path in files if path.is_file() and not path.is_symlink() and path.stat().st_size < 1_000_000
            and b"*" not in path.read_bytes() and b"\x00" not in path.read_bytes()]


def _built(text: str, limits: LoadLimits, aliases: bool):
    """What the builder makes of ``text``: data, positions, surprises, problems and the count; or the diagnostic that stopped it."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except Exception as error:  # not YAML: nothing to build
        return type(error)
    finally:
        loader.dispose()
    if root is None:
        return None
    builder = _Builder("org.yaml", limits, aliases=aliases)
    try:
        data = builder.build(root, (), 0, None)
    except _LoadError as error:
        return error.diagnostic
    return data, builder.positions, builder.surprises, builder.problems, builder.total


@pytest.mark.parametrize("limits", LIMITS, ids=repr)
def test_text_values_built_in_line_come_out_as_the_general_builder_makes_them(limits):
    texts = ODD_TEXTS + [path.read_bytes().decode("utf-8", "replace") for path in _alias_free_files()]
    for text in texts:
        assert "*" not in text
        assert _built(text, limits, aliases=False) == _built(text, limits, aliases=True), text[:200]


def test_the_in_line_way_is_taken_only_without_aliases(monkeypatch):
    made = []
    real_init = _Builder.__init__

    def spying_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        made.append(self.aliases)

    monkeypatch.setattr(_Builder, "__init__", spying_init)
    assert load_text("a: &x [1, 2]\nb: *x\n")[0].data == {"a": [1, 2], "b": [1, 2]}
    assert load_text("a: [1, 2]\nb: '*'\n")[0].data == {"a": [1, 2], "b": "*"}  # a `*` in text: the general way, to be safe
    assert load_text("a: [1, 2]\nb: x\n")[0].data == {"a": [1, 2], "b": "x"}
    assert made == [True, True, False]


def test_the_gate_formats_no_names_and_words_no_messages():
    code = schema._gate_code()
    assert "locals()" not in code
    assert "definition=" not in code
    assert code.count('raise JsonSchemaValueException("")') > 100


def _damaged(data: dict, rng: random.Random) -> dict:
    """A copy of an org's data with one value somewhere replaced by something of another shape."""
    damaged = copy.deepcopy(data)
    node = damaged
    while isinstance(node, (dict, list)) and node and rng.random() < 0.85:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        if not isinstance(node[key], (dict, list)) or rng.random() < 0.2:
            node[key] = rng.choice([None, 0, -1, 1.5, True, "", "x", "X y", [], {}, ["a"], {"unknown": 1}, "cxrules/v2", "99:99-00:00"])
            return damaged
        node = node[key]
    if isinstance(node, dict):
        node["unexpected"] = 1
    return damaged


@pytest.mark.parametrize("org", SEED_ORGS, ids=lambda p: p.stem)
def test_the_gate_says_what_jsonschema_says(org):
    validator = jsonschema.Draft202012Validator(schema.org_schema())
    document, _ = load_text(org.read_bytes(), str(org))
    assert schema.is_valid(document.data) and validator.is_valid(document.data)
    rng = random.Random(org.stem)
    verdicts = set()
    for _ in range(300):
        data = _damaged(document.data, rng)
        verdict = validator.is_valid(data)
        assert schema.is_valid(data) == verdict
        verdicts.add(verdict)
    assert verdicts == {True, False}


SHAPES = [None, "x", 1, [], {}, ["a", None, 2, {"b": "c"}], {"to": "r1", "match": {"category": ["c1", 2, None], "channel": "ch"}},
          {"match": ["c"]}, {"staff": [{"shift": "day", "skills": ["s1", "s2"]}, "oops", {"skills": "s3"}, {"shift": None}]},
          {"levels": [{"role": "a", "notify": ["b", "c"]}, [], {"notify": None}]}, {"then": {"notify": ["x"], "step": "s"}},
          {"when": {"calendar": "c"}, "if": {"match": {"priority": ["p1"], "segment": ["s"]}}}]


def test_walking_straight_down_finds_what_the_general_walk_finds():
    patterns = {pattern for _, pattern, _ in _REFERENCES} | {("*",), (), ("a", "*", "*"), ("states", "*", "next", "*"), ("dates", "*")}
    shapes = list(SHAPES)
    for org in SEED_ORGS:
        data = load_text(org.read_bytes(), str(org))[0].data
        shapes += [item for section in data.values() if isinstance(section, list) for item in section]
    for pattern in patterns:
        for shape in shapes:
            assert _walker(pattern)(shape) == _walk(pattern, shape), (pattern, shape)
