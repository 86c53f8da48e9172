"""A result's JSON Lines record for `cdss batch`, with the items that many results share rendered once.

Most items of a result (a red flag, a condition, a recommendation with its label, rationale and sources)
are the same objects from case to case: the knowledge base's table of prepared items
(cdss.engine.policies.Prepared) makes each once and every result that needs it shares it. Turning those
into dicts and encoding them again for every case, and searching their bytes for numbers orjson might
spell differently (cdss.io.jsonbytes), was ~40 % of writing a result. Here each shared item's compact
JSON is made once per language and given to orjson as a fragment, which it copies as it stands; an item
made for one case alone is rendered for that case. The trace holds the case's values, numbers among them,
and is rendered per case.

Each piece is `jsonbytes.compact` of its own value, so it has the bytes the standard library would write
for it; compact JSON writes a nested value exactly as it writes that value alone; and what is left outside
the pieces (the case id, the knowledge base's identity, the status, the notice) is text, which orjson and
the standard library write alike. So the record is byte for byte `jsonbytes.line(result.to_dict(lang))`,
which tests/test_jsonbytes.py checks on every shipped and synthetic case. Text orjson refuses (a lone
surrogate, which reading a case refuses first) goes the plain way, which decides what happens to it.
"""

from __future__ import annotations

import orjson

from cdss.io import jsonbytes
from cdss.model import Parts, Result, TraceEntry


class ResultLines(Parts):
    """Writes results as JSON Lines records; `shared` (id -> item) holds the items shared by many results,
    which are kept alive by whoever made them, so that an id found there is the item's own."""

    def __init__(self, shared: dict):
        self._shared = shared
        self._rendered: dict[tuple[int, str], orjson.Fragment] = {}

    def line(self, result: Result, lang: str) -> bytes:
        """`jsonbytes.line(result.to_dict(lang))`, the same bytes, made faster."""
        try:
            return orjson.dumps(result.to_dict(lang, self), option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # text orjson refuses: the plain way decides
            return jsonbytes.line(result.to_dict(lang))

    def items(self, items: tuple, lang: str) -> list:
        out = []
        for item in items:
            key = (id(item), lang)
            rendered = self._rendered.get(key)
            if rendered is None:
                made = jsonbytes.compact(item.to_dict(lang))
                if self._shared.get(key[0]) is item:
                    # orjson's bytes keep the whole block it wrote into (4 KiB for a 500-byte item): a piece
                    # kept for the process's life is copied to its own size
                    rendered = self._rendered[key] = orjson.Fragment(bytes(memoryview(made)))
                else:
                    rendered = orjson.Fragment(made)
            out.append(rendered)
        return out

    def trace(self, entries: tuple[TraceEntry, ...]) -> orjson.Fragment:
        return orjson.Fragment(jsonbytes.compact(list(map(TraceEntry.to_dict, entries))))
