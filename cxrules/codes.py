"""Every diagnostic code cxrules can emit, with what it means and how to fix it.

Codes are stable: once published, a code keeps its meaning. ``CX0xx`` are input/output
problems, ``CX1xx`` YAML syntax and schema, ``CX2xx`` references between items, ``CX3xx``
semantic basics found during validation; ``CX4xx`` and up belong to ``cxrules check`` and
are registered by the check modules themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from .diagnostics import Severity

__all__ = ["CodeInfo", "REGISTRY", "register", "lookup", "all_codes"]


@dataclass(frozen=True)
class CodeInfo:
    """Documentation of one code: ``explain`` prints it and the docs are generated from it."""

    code: str
    name: str
    summary: str
    doc: str
    severity: Severity = Severity.ERROR


REGISTRY: dict[str, CodeInfo] = {}


def register(code: str, name: str, summary: str, doc: str = "", severity: Severity = Severity.ERROR) -> CodeInfo:
    if code in REGISTRY:
        raise ValueError(f"code {code} registered twice")
    info = CodeInfo(code, name, summary, doc.strip(), severity)
    REGISTRY[code] = info
    return info


def all_codes() -> dict[str, CodeInfo]:
    """Every code, validation's and the checks' (importing the checks registers theirs)."""
    from . import checks  # noqa: F401

    return REGISTRY


def lookup(code: str) -> CodeInfo | None:
    """Find a code, case-insensitively."""
    return all_codes().get(code.strip().upper())


_VALIDATION_CODES = [
    ("CX001", "io-error", "The file or folder cannot be read.",
     "The path does not exist, is not readable, is a folder with no YAML files in it, or is not a "
     "regular file (a FIFO, a device or a socket: cxrules reads org files from regular files only, so "
     "that a named pipe cannot hang it and `/dev/zero` cannot fill memory). In a folder scan, a "
     "`*.yaml` file that is not a regular file, and a symlink leading out of the scanned folder, are "
     "reported and not read. A symlink named on the command line is not followed when its target "
     "lies outside the folder holding the link (so `cxrules check orgs/*.yaml` in CI cannot be made "
     "to read `/etc/shadow` through a committed link); the diagnostic names the link and says where "
     "it leads. A symlink that loops is reported too. Nothing of a path refused here is quoted. "
     "cxrules exits with status 2. Fix: check the path and its permissions."),
    ("CX100", "yaml-syntax", "The file is not valid YAML.",
     "The YAML parser stopped at the given place. Common causes: a missing `:` after a key, "
     "an unclosed quote or bracket, or a line indented differently from its siblings. Where the "
     "cause is recognised the diagnostic points at it and says the fix: a full-width or typographic "
     "lookalike of YAML punctuation (`：` full-width colon U+FF1A, `；` full-width semicolon U+FF1B "
     "typed for `:`, `，` `“` `”` `［` `］` `｛` `｝`, the full-width space U+3000; replace it with its "
     "ASCII form), a key indented to a column no key above it uses (the hint gives the column of its "
     "sibling keys), or a `: ` inside a value (quote the value). A file that is not YAML and does not "
     "declare `apiVersion: cxrules/v1` either is not taken for an org file: it gets one CX100 at its "
     "top that quotes nothing of it."),
    ("CX101", "duplicate-key", "The same key appears twice in one mapping.",
     "YAML parsers silently keep the last of two equal keys, so one of them is lost. "
     "Fix: remove or rename one of the two; the message names where the first one is."),
    ("CX102", "file-too-large", "The file is larger than cxrules reads.",
     "Org files are read whole; files above the limit (10 MB by default) are refused before "
     "reading so that a stray data file cannot exhaust memory. Fix: split the org with `include`."),
    ("CX103", "binary-file", "The file is binary, not YAML text.",
     "The file contains NUL bytes, as images, archives and compiled files do. Fix: point cxrules "
     "at the YAML file."),
    ("CX104", "not-utf8", "The file is not UTF-8 text.",
     "cxrules reads org files as UTF-8 (Chinese labels included). Fix: re-save the file as UTF-8, "
     "e.g. `iconv -f GBK -t UTF-8 in.yaml > out.yaml`."),
    ("CX105", "tab-indentation", "A tab is used where YAML needs spaces.",
     "YAML forbids tabs for indentation. Fix: indent with spaces (two per level is customary)."),
    ("CX106", "multiple-documents", "The file holds more than one YAML document.",
     "An org file is one document; a second `---` starts another that would be ignored. "
     "Fix: put each org or fragment in a file of its own and join them with `include`."),
    ("CX107", "empty-file", "The file has no content.",
     "The file is empty or holds only comments. Fix: start from one of the orgs in `orgs/`."),
    ("CX108", "alias-expansion", "The file holds, or its aliases expand to, too many YAML nodes.",
     "A file may hold at most 2,000,000 YAML nodes (keys, values and list items); a real org holds "
     "a few thousand. Anchors and aliases (`&a`, `*a`) may repeat content, but nested aliases can "
     "grow exponentially (the 'billion laughs' attack): cxrules stops expanding past the limit, and "
     "the message says aliases expand too far. A file that is that big as written (a data file "
     "under an org's name, `[1, 1, 1, …]` over megabytes) gets 'too many values' instead; its nodes "
     "are counted before they are built, so it is refused in constant memory. Fix: write the "
     "repeated content out, or reduce the nesting of aliases; for too many values, check that it "
     "is the right file."),
    ("CX109", "yaml-unsupported", "The YAML uses a feature org files do not allow.",
     "Keys must be plain strings and values plain scalars, lists or mappings; explicit tags "
     "such as `!!python/object` are refused."),
    ("CX110", "wrong-type", "A value has the wrong type.",
     "The schema expects another type here, e.g. a list where a single value was written. "
     "Values such as `no`, `on` or `off` are read as booleans by YAML: quote them."),
    ("CX111", "missing-property", "A required property is missing.",
     "Every item needs the properties the schema marks as required, such as `id` and `name`."),
    ("CX112", "unknown-property", "A property that the format does not know.",
     "Objects in an org file are closed: a misspelt key would otherwise be ignored silently. "
     "Fix: correct the key (the hint suggests the nearest known one) or remove it."),
    ("CX113", "value-not-allowed", "The value is not one of those allowed.",
     "The property takes one of a fixed set of values; the message lists them."),
    ("CX114", "bad-format", "The value does not have the required form.",
     "Ids are lower-case `snake_case`; durations look like `30m`, `2h30m`, `3d`; times of day "
     "like `09:00-18:00`; shares like `80%`; dates like `2025-01-26`. An `include` path may not "
     "hold a control character (a NUL byte written `\\0` in a double-quoted string, a line break): "
     "no file name can, so it is refused at the entry, shown as `\\x00`."),
    ("CX115", "out-of-range", "A number, text or list is too large or too small.",
     "The schema sets bounds, e.g. a capacity of at least 1 or a workflow of at least two states."),
    ("CX116", "duplicate-items", "A list repeats the same item.",
     "Lists of ids must not name an id twice."),
    ("CX119", "schema-violation", "The value breaks a rule of the schema.",
     "A schema rule not covered by a more specific code."),
    ("CX120", "unsupported-version", "The file's `apiVersion` is missing or not supported.",
     "This release reads `apiVersion: cxrules/v1`. A file without `apiVersion: cxrules/...` "
     "(a CI config, a Kubernetes manifest, `/etc/passwd` named by mistake) is not taken for an org "
     "file: it gets this one diagnostic (CX110 when its top level is a list or a single value), "
     "which quotes nothing of it, and nothing more of it is checked, so none of its keys or values "
     "is printed. Fix: set it, or upgrade cxrules; or name the org file you meant."),
    ("CX130", "include-missing", "An included file cannot be read.",
     "A path under `include` is resolved relative to the including file. Fix the path."),
    ("CX131", "include-cycle", "Files include each other in a cycle.",
     "Fix: remove the `include` that closes the cycle."),
    ("CX132", "include-kind", "An included file is not a fragment, or a fragment says what only the main file may.",
     "Included files must say `kind: Fragment` and may not set `org` or `include`."),
    ("CX133", "no-org", "The main file does not describe an organisation.",
     "The file given to cxrules must be `kind: Organisation` with an `org` section; fragments "
     "are read through the `include` of an org file."),
    ("CX134", "include-outside", "An include leads out of the org's folder.",
     "Included files must lie in the folder of the main org file or below it: an absolute path "
     "(`/etc/passwd`), a `..` that climbs out of the folder, or a symlink whose target is outside "
     "it is refused before anything is read, so an org file cannot make cxrules (or a CI job "
     "running it) read and print files from elsewhere. Fix: copy the fragment into the org's "
     "folder and include it by a path relative to the including file."),
    ("CX135", "include-not-org-file", "An included file is not an org file.",
     "Only org fragments can be included: regular files whose name ends in `.yaml` or `.yml` and "
     "that declare `apiVersion: cxrules/v1`. A JSON file, a CI config, a binary file, a FIFO, a "
     "device or a symlink that loops is refused with this diagnostic at the `include` entry, and "
     "nothing of its content is quoted. Fix: include the fragment you meant (`kind: Fragment`), or "
     "remove the entry."),
    ("CX201", "unknown-reference", "An id names nothing of the kind expected.",
     "Roles, units, duties, calendars, categories, channels, segments, skills, priorities and "
     "escalation paths are referred to by id. The hint suggests the nearest existing id, or "
     "says when the id exists but is of another kind (a unit where a role is expected)."),
    ("CX202", "duplicate-id", "Two items of the same kind share an id.",
     "Ids must be unique within their kind across all included files. Fix: rename one."),
    ("CX301", "unit-cycle", "Units are their own ancestors.",
     "The `parent` links of units must form a tree. Fix: break the cycle named in the message."),
    ("CX302", "reporting-cycle", "Roles report to each other in a cycle.",
     "The `reports_to` links must form a tree. Fix: break the cycle named in the message."),
    ("CX303", "unknown-timezone", "The time zone is not known.",
     "Time zones are IANA names such as `Asia/Shanghai` or `Europe/Berlin`."),
    ("CX304", "zero-duration", "A duration is zero.",
     "Time limits, deadlines and windows must be longer than zero."),
    ("CX305", "empty-interval", "A time interval starts when it ends.",
     "`09:00-09:00` is empty; to mean the whole day write `00:00-24:00`."),
    ("CX306", "invalid-date", "A date does not exist.",
     "Dates are `YYYY-MM-DD` and must exist in the calendar (no 2025-02-30)."),
    ("CX307", "percent-range", "A share is above 100 %.",
     "Shares such as `warn_at` and follow-up coverage lie between 0% and 100%."),
    ("CX308", "level-without-limit", "An escalation level other than the last has no time limit.",
     "Every level but the last needs `within`, or the ticket would never move on."),
    ("CX309", "unknown-country", "No public holidays are known for the country.",
     "`holidays.country` takes an ISO 3166 code that the `holidays` library supports, e.g. `CN`."),
    ("CX310", "days-in-business-time", "A business-time target is written in days or weeks.",
     "SLA targets and hand-off and escalation limits count business time, the open hours of a "
     "calendar. There `3d` would mean 72 open hours, which on an office calendar of 8 hours a day "
     "is nine working days, not three; so `d` and `w` are refused in those fields. Fix: write "
     "working days, `3wd` (due at the same local time on the third working day), or business "
     "hours, `72h` (72 open hours); the message gives both for the value written. Follow-up "
     "deadlines and surge windows count calendar time and keep `d` and `w`."),
    ("CX311", "duration-too-long", "A duration is longer than a duration may be.",
     "Durations may be at most 366 days: `366d` in calendar time (follow-ups, surge windows); "
     "`8784h` or `366wd` in business time (SLA targets, hand-off and escalation limits). A longer "
     "one is a typing slip, and counting it out would keep the engine busy for nothing. A campaign's "
     "date range is held to the same year. Fix: give the time really meant."),
    ("CX312", "automation-trigger", "An automation's trigger or actions do not fit together.",
     "A trigger is one of: an event (`event`), a time after one (`after`, with `since`, `clock` and "
     "`calendar`), or a pattern across tickets (`count` or `following`, each with `within`). `since`, "
     "`clock` and `calendar` need `after`; `count` and `following` need `within` and exclude each "
     "other and `after`; `calendar` needs `clock: business`; `reopen: earlier` needs `following`, "
     "the pattern that finds the earlier ticket; `per: all` suits `count` only. An `after` in "
     "business time is written in business hours or working days, like an SLA target (CX310). "
     "Fix: keep one trigger form, as the message says."),
    ("CX313", "sla-without-target", "An SLA sets no target.",
     "An SLA needs at least one of `first_response`, `resolution` and `next_reply`; without any, "
     "the tickets it takes get no deadline at all, and the SLAs after it in the file never see them. "
     "Fix: give the target meant, or remove the SLA."),
    ("CX314", "surge-without-threshold", "A surge rule has no threshold.",
     "A surge rule switches its team on at `threshold` tickets within its window, or at `usual.times` "
     "the usual count of that window at that time of the week; without either it never would. "
     "Fix: give one (both: the relative one, never below the absolute)."),
    ("CX010", "ticket-unreadable", "The ticket given to `cxrules route` cannot be read.",
     "The ticket path does not exist or is not readable, is not a regular file (a folder, a FIFO, a "
     "device such as `/dev/zero`: only regular files and `-`, standard input, are read, so a named "
     "pipe cannot hang `route`), is larger than 1 MB (a ticket is a few hundred bytes; it is refused "
     "before it is parsed), or is not UTF-8 text (the position is that of the first byte that is "
     "not). `route` exits with status 2. Fix: give the ticket's JSON file, saved as UTF-8 (e.g. "
     "`iconv -f GBK -t UTF-8 ticket.json > ticket-utf8.json`); `cxrules simulate` replays a log of "
     "many tickets."),
    ("CX011", "ticket-not-json", "The ticket is not JSON.",
     "The ticket's text stops being JSON at the line and column given: the file is empty, a text "
     "or field name is not in double quotes (`'complaint'`, `complaint`), a `,` or `:` is missing "
     "or one too many (a comma after the last field), Python's `True`/`None` stand for JSON's "
     "`true`/`null`, a full-width lookalike (`“` `”` `：` `，` typed by a Chinese input method) "
     "stands for JSON's punctuation, text follows the object, or the value is `NaN` or `Infinity`, "
     "which JavaScript writes but JSON does not have. JSON nested deeper than Python can follow is "
     "refused too. `route` exits with status 2. Fix: as the hint says, where the cause is recognised."),
    ("CX012", "ticket-not-object", "The ticket is JSON, but not one JSON object.",
     "A ticket is one object, `{\"category\": …, \"channel\": …, \"segment\": …, \"priority\": …}`; "
     "a list (even of one ticket), a text or a number is refused at its first character. "
     "Fix: give one object (without `[` `]` around it); route several tickets one at a time."),
    ("CX013", "ticket-missing-field", "A field the ticket needs is missing.",
     "`category`, `channel`, `segment` and `priority` are required; the diagnostic points at the "
     "object's `{` and the hint lists the values the org allows. Fix: add the field."),
    ("CX014", "ticket-unknown-field", "The ticket has a field `route` does not know.",
     "A ticket's fields are `id`, `category`, `channel`, `segment`, `priority`, `member`, "
     "`customer_id` and `created`; any other one is refused rather than ignored, since a misspelt "
     "field would otherwise route the ticket on a default. Fix: correct the name (the hint suggests "
     "the nearest field) or remove it."),
    ("CX015", "ticket-duplicate-field", "The ticket gives the same field twice.",
     "JSON readers keep one of two equal keys, and not all the same one, so the ticket would mean "
     "different things to different programs. The diagnostic is at the second key and names the "
     "first. Fix: remove one of the two."),
    ("CX016", "ticket-wrong-type", "A ticket field has the wrong type.",
     "Every field but `member` is text in double quotes (`customer_id` may also be `null`); "
     "`member` is `true` or `false`, without quotes. No field is a number (write `\"42\"`), a list or "
     "an object (a ticket is flat: `[\"complaint\"]` is refused; give `\"complaint\"`). A number is "
     "refused without being converted, however many digits it has. Fix: as the hint says."),
    ("CX017", "ticket-unknown-value", "A ticket's category, channel, segment or priority is not one of the org's.",
     "These four fields take ids the org defines (`categories[].id`, sub-categories included, "
     "`channels[].id`, `segments[].id`, `org.priorities`). Fix: correct the value (the hint suggests "
     "the nearest id, or lists them), or add it to the org."),
    ("CX018", "ticket-bad-value", "A ticket field's text is not a value it may take.",
     "Texts hold 1 to 200 characters (`created`: 64), with no control characters, no bidirectional "
     "formatting characters and no lone surrogates (an escape such as `\"\\ud800\"` that encodes no "
     "character). `created` is an ISO 8601 time, such as `2025-03-07T19:30:00+08:00` (without an "
     "offset, in the org's time zone), in the years 1970–2100, outside which deadlines cannot be "
     "computed; a near miss such as `2025/3/7 19:30` gets its ISO form as the hint. Fix: as the hint says."),
]

for _code, _name, _summary, _doc in _VALIDATION_CODES:
    register(_code, _name, _summary, _doc)
