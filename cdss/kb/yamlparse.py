"""The YAML side of reading a rule file (cdss/kb/yamlfile.py): PyYAML's safe loader made cheap, the checks
that keep a rule file plain data, and the construction of that data; and the line of a place in a node tree.

A module of its own so that PyYAML is imported only when a file is read from YAML (a warm cache gives the
data and lines of every shipped file as JSON: cdss/kb/yamlcache.py): its import was ~0.1 G of the
instructions of a cold `cdss evaluate`. Its source is part of what names a cache entry.
"""

from __future__ import annotations

import functools
import math

import yaml

from cdss.errors import RuleFileError


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
_RESOLVER = yaml.resolver.Resolver()  # the safe loaders' resolver: stateless once built


@functools.lru_cache(maxsize=8192)
def _resolve(kind, value, implicit) -> str:
    return _RESOLVER.resolve(kind, value, implicit)


class _Loader(_Base):
    """The safe loader, with its per-node Python hooks made cheap: with libyaml parsing, they were most of
    what reading a rule file costs. A rule base repeats a few hundred scalars (keys, field paths, codes),
    so each one's tag is resolved once (the same answer: the resolver depends on nothing else); the path
    resolvers are a feature no safe loader registers, so their walk is skipped."""

    def resolve(self, kind, value, implicit):
        return _resolve(kind, value, implicit)

    def descend_resolver(self, current_node, current_index) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


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
                if not isinstance(key, yaml.ScalarNode):
                    raise yaml.MarkedYAMLError(problem="a key must be plain text or a number, not a list or "
                                               "mapping", problem_mark=key.start_mark)
                if key.value in keys:
                    raise yaml.MarkedYAMLError(problem=f"duplicate key {key.value!r}", problem_mark=key.start_mark)
                keys.add(key.value)
                stack += [key, value]
        elif isinstance(item, yaml.SequenceNode):
            stack += item.value


# PyYAML's own meaning of each plain scalar tag (YAML 1.1: 0x1f, 1_000, 1:30, yes/no, ~)
_SAFE = yaml.constructor.SafeConstructor()
_SCALAR = {"tag:yaml.org,2002:str": lambda node: node.value,
           "tag:yaml.org,2002:null": lambda node: None,
           "tag:yaml.org,2002:bool": _SAFE.construct_yaml_bool,
           "tag:yaml.org,2002:int": _SAFE.construct_yaml_int,
           "tag:yaml.org,2002:float": _SAFE.construct_yaml_float}


def _construct(root: yaml.Node):
    """The data of a node tree that _check_tree accepted (plain tags, scalar keys, no aliases): what
    SafeConstructor.construct_document makes, in one loop instead of its generic machinery of generators
    and per-node state (~3x faster). No recursion: nesting depth is limited by what the composer accepts,
    not by Python's stack. tests/test_yaml_reading.py holds both to the same data."""
    scalar = _SCALAR
    if isinstance(root, yaml.ScalarNode):
        return scalar[root.tag](root)
    top: dict | list = {} if isinstance(root, yaml.MappingNode) else []
    stack = [(root, top)]
    while stack:
        node, into = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = scalar[key.tag](key)
                if isinstance(value, yaml.ScalarNode):
                    into[name] = scalar[value.tag](value)
                else:
                    child = into[name] = {} if isinstance(value, yaml.MappingNode) else []
                    stack.append((value, child))
        else:
            for value in node.value:
                if isinstance(value, yaml.ScalarNode):
                    into.append(scalar[value.tag](value))
                else:
                    child = {} if isinstance(value, yaml.MappingNode) else []
                    into.append(child)
                    stack.append((value, child))
    return top


def parse(name: str, text: str) -> tuple[object, yaml.Node | None]:
    """The data of a rule file's text and its node tree; RuleFileError (with the line) for what is refused."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_tree(node)
        data = _construct(node) if node is not None else None
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


def node_line(node: yaml.Node, parts: list) -> int:
    """`line_at` over a YAML node tree."""
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
