"""Codes as the mapping writes them (`alias|code`, with `*` for a prefix) and matching them against FHIR
Codings and CodeableConcepts."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from attrs import frozen


@frozen
class Code:
    """One code of the mapping: every system URI its alias stands for, the code, and whether it is a prefix."""

    alias: str
    systems: tuple[str, ...]
    code: str
    prefix: bool

    @property
    def system(self) -> str:
        """The URI to write: the alias's first."""
        return self.systems[0]

    def coding(self, display: str | None = None) -> dict:
        out = {"system": self.system, "code": self.code}
        if display:
            out["display"] = display
        return out

    def __str__(self) -> str:
        return f"{self.alias}|{self.code}{'*' if self.prefix else ''}"


def parse_code(text: str, systems: dict[str, tuple[str, ...]]) -> Code:
    alias, _, code = text.partition("|")
    if alias not in systems:
        raise KeyError(alias)
    prefix = code.endswith("*")
    return Code(alias, systems[alias], code.rstrip("*"), prefix)


class CodeIndex:
    """Finds what a (system, code) pair stands for: exact codes by dictionary, prefixes by trying each
    prefix length the index holds. Values keep the order in which they were added."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], list] = {}
        self._prefix: dict[str, dict[str, list]] = {}
        self._lengths: dict[str, set[int]] = {}

    def add(self, code: Code, value: Any) -> None:
        for system in code.systems:
            if code.prefix:
                self._prefix.setdefault(system, {}).setdefault(code.code, []).append(value)
                self._lengths.setdefault(system, set()).add(len(code.code))
            else:
                self._exact.setdefault((system, code.code), []).append(value)

    def lookup(self, system: str | None, code: str | None) -> list:
        if not isinstance(system, str) or not isinstance(code, str):
            return []
        found = list(self._exact.get((system, code), ()))
        prefixes = self._prefix.get(system)
        if prefixes:
            for length in sorted(self._lengths[system]):
                if length <= len(code):
                    found.extend(prefixes.get(code[:length], ()))
        return found

    def in_concept(self, concept: Any) -> list:
        """Every value that any coding of a CodeableConcept stands for, without repeats, in order."""
        out: list = []
        for coding in codings(concept):
            for value in self.lookup(coding.get("system"), coding.get("code")):
                if value not in out:
                    out.append(value)
        return out


def codings(concept: Any) -> Iterator[dict]:
    """The codings of a CodeableConcept (or of a list of them)."""
    if isinstance(concept, list):
        for item in concept:
            yield from codings(item)
        return
    if isinstance(concept, dict):
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict):
                yield coding


def index_of(pairs: Iterable[tuple[Code, Any]]) -> CodeIndex:
    index = CodeIndex()
    for code, value in pairs:
        index.add(code, value)
    return index
