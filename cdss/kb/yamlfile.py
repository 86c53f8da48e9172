"""Reading rule files as plain data, and finding the line behind any place in them.

Rule files are data, never code: YAML tags that construct objects, anchors and aliases (the
"billion laughs" bomb), duplicate keys, keys that are not scalars and numbers without a finite value are refused, each with its line.
"""

from __future__ import annotations

from pathlib import Path

from cdss.errors import RuleFileError
from cdss.kb.yamlcache import Lines, line_in_tree

MAX_RULE_FILE_BYTES = 4 * 1024 * 1024
READ_BLOCK = 1 << 20


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


def read_yaml(path: Path, raw: bytes | None = None, cache=None) -> tuple[object, object]:
    """The file's data and its node tree (for line numbers); `raw` when its bytes were already read.
    With a `cache` (cdss.kb.yamlcache.Cache), a file read before gives its data and a line tree instead of
    the node tree (`line_at` takes either), and a file read now is kept there."""
    name = str(path)
    if raw is None:
        raw = read_bounded(path)
    if cache is not None:
        found = cache.get(raw)
        if found is not None:
            return found
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RuleFileError(name, f"not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise RuleFileError(name, "the file is empty; expected a rule file (pathway, title, rules)")
    from cdss.kb import yamlparse  # PyYAML: only for a file the cache does not hold (see yamlparse)

    data, node = yamlparse.parse(name, text)
    if cache is not None and node is not None:
        cache.put(raw, data, node)
    return data, node


def line_at(node, parts: list) -> int | None:
    """The 1-based line of the deepest node that exists along a JSON-pointer path."""
    if node is None:
        return None
    if isinstance(node, Lines):  # a line tree from the cache
        return line_in_tree(node, parts)
    from cdss.kb import yamlparse  # a node tree: PyYAML is loaded already

    return yamlparse.node_line(node, parts)
