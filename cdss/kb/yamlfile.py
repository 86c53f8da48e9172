"""Reading rule files as plain data, and finding the line behind any place in them.

Rule files are data, never code: YAML tags that construct objects, anchors and aliases (the
"billion laughs" bomb), duplicate keys and numbers without a finite value are refused, each with its line.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from cdss.errors import RuleFileError

MAX_RULE_FILE_BYTES = 4 * 1024 * 1024
READ_BLOCK = 1 << 20


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
PLAIN_TAGS = {"tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "map", "seq")}


FLOAT_TAG = "tag:yaml.org,2002:float"


def _finite(literal: str) -> bool:
    """Whether a YAML float is a finite number (`.inf`, `.nan` and `1e400` are not)."""
    text = literal.lower().replace("_", "").lstrip("+-")
    if text in (".inf", ".nan"):
        return False
    try:
        return math.isfinite(float(text))
    except ValueError:  # YAML 1.1's sexagesimal floats (1:30.5): finite
        return True


def _check_tree(node: yaml.Node) -> None:
    """Refuse what would make a rule file more than plain data: tags, aliases, duplicate keys.

    libyaml resolves an alias to the very node it names, so a node met twice is an alias; the walk
    stops there, which also defuses an alias bomb before anything is expanded.
    """
    seen: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            raise yaml.MarkedYAMLError(problem="anchors and aliases are not allowed in rule files",
                                       problem_mark=item.start_mark)
        seen.add(id(item))
        if item.tag not in PLAIN_TAGS:
            raise yaml.MarkedYAMLError(problem=f"YAML tags are not allowed in rule files ({item.tag})",
                                       problem_mark=item.start_mark)
        if item.tag == FLOAT_TAG and not _finite(item.value):
            raise yaml.MarkedYAMLError(problem=f"expected a finite number, got {item.value[:40]}",
                                       problem_mark=item.start_mark)
        if isinstance(item, yaml.MappingNode):
            keys = set()
            for key, value in item.value:
                if key.value in keys:
                    raise yaml.MarkedYAMLError(problem=f"duplicate key {key.value!r}", problem_mark=key.start_mark)
                keys.add(key.value)
                stack += [key, value]
        elif isinstance(item, yaml.SequenceNode):
            stack += item.value


def read_bounded(path: Path) -> bytes:
    """A rule file's bytes, refused from its size before anything is read, and read in blocks up to the
    limit, so that neither a huge file nor a device behind a name can take memory or time (a 3 GB file
    once took 6.3 GB of memory to be refused)."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_RULE_FILE_BYTES:
            raise RuleFileError(name, f"file is {size} bytes; a rule file may hold at most {MAX_RULE_FILE_BYTES}")
        blocks, total = [], 0
        with open(path, "rb") as handle:
            while block := handle.read(min(READ_BLOCK, MAX_RULE_FILE_BYTES + 1 - total)):
                blocks.append(block)
                total += len(block)
                if total > MAX_RULE_FILE_BYTES:
                    raise RuleFileError(name, f"file is over {MAX_RULE_FILE_BYTES} bytes; a rule file may hold "
                                              "at most that")
    except OSError as error:
        raise RuleFileError(name, f"cannot read: {error.strerror or error}") from None
    return b"".join(blocks)


def read_yaml(path: Path, raw: bytes | None = None) -> tuple[object, yaml.Node | None]:
    """The file's data and its node tree (for line numbers); `raw` when its bytes were already read."""
    name = str(path)
    if raw is None:
        raw = read_bounded(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RuleFileError(name, f"not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise RuleFileError(name, "the file is empty; expected a rule file (pathway, title, rules)")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_tree(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = error.problem or "invalid YAML"
        raise RuleFileError(name, problem, line=line) from None
    except yaml.YAMLError as error:
        raise RuleFileError(name, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()
    return data, node


def line_at(node: yaml.Node | None, parts: list) -> int | None:
    """The 1-based line of the deepest node that exists along a JSON-pointer path."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line
