"""Read YAML into plain Python values while remembering the line of every key.

PyYAML silently keeps the last of two equal keys and forgets where values came from. Catalog
errors must name the file and the line, so we compose the node graph ourselves, refuse
duplicate keys, and return a map from each key path to its 1-based line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]


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
    """Parse one YAML document; raise SourceError on syntax errors and duplicate keys."""
    path = Path(file)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(path, None, "", "file not found", "check the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(path, None, "", f"cannot read file: {exc}") from None
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise SourceError(
            path, line, "", f"invalid YAML: {exc.problem}", "fix the syntax"
        ) from None
    lines: dict[Loc, int] = {(): 1}
    scalars = yaml.constructor.SafeConstructor()  # one per document: it remembers each node
    data = _convert(node, (), lines, path, scalars) if node is not None else None
    return Source(path, data, lines)


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
            key = scalars.construct_object(key_node)
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
    return scalars.construct_object(node)
