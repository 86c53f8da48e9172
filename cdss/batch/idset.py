"""A compact set of case ids for duplicate detection in batches of any size.

Ids are kept as 64-bit digests in an open-addressing table of machine words: 16 bytes an id, so a
million cases cost 16 MB rather than the ~100 MB of a Python set of strings.
"""

from __future__ import annotations

import hashlib
from array import array


class IdSet:
    def __init__(self, capacity: int = 1 << 14):
        self._table = array("Q", bytes(8 * capacity))
        self._count = 0

    @staticmethod
    def _digest(text: str) -> int:
        value = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        return value or 1  # 0 marks an empty slot

    def add(self, text: str) -> bool:
        """Add; False when the id was already there."""
        if 2 * (self._count + 1) > len(self._table):
            self._grow()
        return self._insert(self._digest(text))

    def _insert(self, value: int) -> bool:
        table, mask = self._table, len(self._table) - 1
        slot = value & mask
        while table[slot]:
            if table[slot] == value:
                return False
            slot = (slot + 1) & mask
        table[slot] = value
        self._count += 1
        return True

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", bytes(16 * len(old)))
        self._count = 0
        for value in old:
            if value:
                self._insert(value)

    def __len__(self) -> int:
        return self._count
