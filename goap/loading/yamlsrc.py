"""Read YAML into plain Python values while remembering the line of every key.

PyYAML silently keeps the last of two equal keys and forgets where values came from. Catalog
errors must name the file and the line, so we compose the node graph ourselves, refuse
duplicate keys, and return a map from each key path to its 1-based line.

The node walk is recursive and visits an aliased node once per alias, so untrusted text could
hang it (an alias bomb, "billion laughs") or overflow the stack (10,000 nested brackets). Before
composing, one flat pass over the parser's events measures the document as it would be with
every alias expanded and refuses it past fixed limits; whatever fails while building a scalar
(an int too long to convert, a date that does not exist) is reported as a SourceError too.
Command-line values go through the same gate (``load_value``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64  # nested collections; a catalog needs about six
MAX_ALIAS_NODES = 10_000  # nodes that aliases add when expanded
MAX_NODES = 200_000  # nodes in the whole document, aliases expanded
MAX_INT_CHARS = 1_000  # digits of an int literal (Python refuses to convert 4300 and more)
_INT_TAG = "tag:yaml.org,2002:int"


class SourceError(Exception):
    """Bad input with a position: file, line, key path, what is wrong and how to fix it."""

    def __init__(self, file: str | Path, line: int | None, key: str, problem: str, fix: str = ""):
        self.file, self.line, self.key, self.problem, self.fix = str(file), line, key, problem, fix
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key + ': ' if self.key else ''}{self.problem}"
        return f"{text}\n  fix: {self.fix}" if self.fix else text


class Source:
    """A parsed YAML document: its data and the line of each key path."""

    def __init__(self, file: str | Path, data: Any, lines: dict[Loc, int]):
        self.file, self.data, self.lines = str(file), data, lines

    def line(self, loc: Loc) -> int | None:
        """Line of the longest prefix of ``loc`` that we know (pydantic locs can go deeper)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def error(self, loc: Loc, problem: str, fix: str = "") -> SourceError:
        return SourceError(self.file, self.line(loc), dotted(loc), problem, fix)


def dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def load(file: str | Path, text: str | None = None) -> Source:
    """Parse one YAML document; raise SourceError on syntax errors, duplicate keys and
    documents past the size limits."""
    path = Path(file)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(path, None, "", "file not found", "check the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(path, None, "", f"cannot read file: {exc}") from None
    try:
        node = _compose(path, text)
    except (yaml.YAMLError, UnicodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark else None
        raise SourceError(path, line, "", f"invalid YAML: {problem}", "fix the syntax") from None
    lines: dict[Loc, int] = {(): 1}
    data = _convert(node, (), lines, path, _constructor()) if node is not None else None
    return Source(path, data, lines)


def load_value(text: str, what: str) -> Any:
    """One YAML value from short text such as a command-line argument, under the same limits.

    Text that is not YAML comes back as the string itself; a value past the limits or one
    that cannot be built raises SourceError, with ``what`` in place of the file name."""
    try:
        node = _compose(what, text)
    except (yaml.YAMLError, UnicodeError):
        return text
    return _convert(node, (), {}, Path(what), _constructor()) if node is not None else None


def _constructor() -> Any:
    scalars = yaml.constructor.SafeConstructor()  # one per document: it remembers each node
    scalars.deep_construct = True  # finish `!!seq x` now (an error), not as an empty list
    return scalars


def _compose(path: str | Path, text: str) -> yaml.Node | None:
    _check_size(path, text)
    return yaml.compose(text, Loader=_LOADER)


def _check_size(path: str | Path, text: str) -> None:
    """Refuse a document that nests too deep or grows too large once aliases are expanded.

    Flat over the event stream: each open collection counts its expanded nodes and its height,
    each anchor keeps the size of what it names, and an alias adds that size where it stands.
    """
    named: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, height)
    open_: list[list[Any]] = []  # per open collection: [anchor, nodes, tallest child]
    total = via_aliases = 0
    for event in yaml.parse(text, Loader=_LOADER):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_) >= MAX_DEPTH:
                raise SourceError(
                    path,
                    line,
                    "",
                    f"nested deeper than {MAX_DEPTH} levels",
                    "flatten the structure; a catalog needs only a few levels",
                )
            open_.append([event.anchor, 1, 0])
            total += 1
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes, height = open_.pop()
            height += 1
        elif isinstance(event, yaml.ScalarEvent):
            anchor, nodes, height = event.anchor, 1, 0
            total += 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in named:
                if any(frame[0] == event.anchor for frame in open_):
                    raise SourceError(
                        path,
                        line,
                        "",
                        f"alias *{event.anchor} refers to the collection that contains it",
                        "an alias can only repeat a value that is already complete",
                    )
                continue  # undefined: composing reports it
            anchor, (nodes, height) = None, named[event.anchor]
            total += nodes
            via_aliases += nodes
            if via_aliases > MAX_ALIAS_NODES:
                raise SourceError(
                    path,
                    line,
                    "",
                    f"alias *{event.anchor} expands the aliases in this document past "
                    f"{MAX_ALIAS_NODES} values (an alias bomb?)",
                    "write the repeated values out, or alias smaller pieces fewer times",
                )
            if len(open_) + height > MAX_DEPTH:
                raise SourceError(
                    path,
                    line,
                    "",
                    f"alias *{event.anchor} nests the document deeper than {MAX_DEPTH} levels",
                    "flatten the structure; a catalog needs only a few levels",
                )
        else:
            continue
        if total > MAX_NODES:
            raise SourceError(
                path,
                line,
                "",
                f"more than {MAX_NODES} values (aliases expanded)",
                "split the document",
            )
        if anchor is not None:
            named[anchor] = (nodes, height)
        if open_:
            open_[-1][1] += nodes
            open_[-1][2] = max(open_[-1][2], height)


def _convert(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path, scalars: Any) -> Any:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SourceError(
                    path,
                    key_node.start_mark.line + 1,
                    dotted(loc),
                    "YAML merge keys (<<) are not supported",
                    "write the keys out",
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError(
                    path,
                    key_node.start_mark.line + 1,
                    dotted(loc),
                    "mapping keys must be plain scalars",
                    "use a name as key",
                )
            key = _scalar(key_node, loc, path, scalars)
            key_loc = (*loc, key)
            if key in out:
                raise SourceError(
                    path,
                    key_node.start_mark.line + 1,
                    dotted(key_loc),
                    f"duplicate key (first defined on line {lines[key_loc]})",
                    "remove one of the two; YAML would silently keep only the last",
                )
            lines[key_loc] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, key_loc, lines, path, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*loc, i), lines, path, scalars) for i, item in enumerate(node.value)
        ]
    return _scalar(node, loc, path, scalars)


def _scalar(node: yaml.Node, loc: Loc, path: Path, scalars: Any) -> Any:
    """Build one scalar; any failure (a bad date, bad base64, an unknown tag) is a SourceError."""
    line, shown = node.start_mark.line + 1, repr(node.value[:40]) + "..." * (len(node.value) > 40)
    if node.tag == _INT_TAG and len(node.value) > MAX_INT_CHARS:
        raise SourceError(
            path,
            line,
            dotted(loc),
            f"integer of {len(node.value)} characters; at most {MAX_INT_CHARS} are read",
            "use a smaller number, or quote it to make it text",
        )
    try:
        return scalars.construct_object(node)
    except Exception as exc:  # untrusted text: every constructor failure is bad input
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourceError(
            path,
            line,
            dotted(loc),
            f"cannot read {shown} as {node.tag.rsplit(':', 1)[-1]}: {problem}",
            "correct the value, or quote it to make it text",
        ) from None
