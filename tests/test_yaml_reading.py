"""Rule files are read by cdss/kb/yamlfile.py's own construction loop instead of PyYAML's
construct_document (half of a rule base's load time): the data must be exactly what PyYAML's safe loader
makes, scalar spellings included, and a key that is not a scalar is one clear error, not a traceback."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from cdss import resources
from cdss.errors import RuleFileError
from cdss.kb.yamlfile import read_yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyyaml(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _same(left, right) -> bool:
    """Equal, with the same types all the way down (True == 1 and 1 == 1.0 would hide a wrong scalar),
    the same key order, and NaN equal to itself."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right))
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return left == right


def test_every_shipped_yaml_file_reads_as_pyyaml_reads_it():
    files = sorted(resources.DEFAULT_RULES_DIR.glob("*.yaml")) + sorted((ROOT / "cases").rglob("*.yaml"))
    assert len(files) > 5
    for path in files:
        data, _ = read_yaml(path)
        assert _same(data, _pyyaml(path)), path


SCALARS = ("""\
ints: [0, -7, +3, 1_000, 0x1f, 0o17, 017, 0b101, '12', 1:30, 9223372036854775808]
floats: [1.5, -0.0, 1e3, 1.0e-05, 6.8523015e+5, 1_000.5, 190:20:30.15, +2.5]
bools: [yes, No, on, OFF, true, False, y, n]
nulls: [~, null, Null, ]
strings: ['yes', "1e3", plain text, "é \\u2028", '', 2026-12-01x]
empty_map: {}
empty_list: []
nested:
  a: [{b: [[], {}, [1, {c: d}]]}]
  "1": one
  2: two
  true: t
  ~: n
  1.5: f
"""
           + "deep: " + "[" * 60 + "1" + "]" * 60 + "\n")


@pytest.mark.parametrize("text", [SCALARS, "just text\n", "42\n", "- a\n- {b: c}\n", "~\n"])
def test_scalars_maps_lists_and_nesting_read_as_pyyaml_reads_them(tmp_path, text):
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    data, _ = read_yaml(path)
    assert _same(data, _pyyaml(path))


@pytest.mark.parametrize("text, line", [("pathway: x\n? [a]\n: b\n", 2), ("a: 1\nb:\n  ? {x: 1}\n  : 2\n", 3)])
def test_a_key_that_is_a_list_or_mapping_is_one_clear_error(tmp_path, text, line):
    path = tmp_path / "keys.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError, match="a key must be plain text or a number") as caught:
        read_yaml(path)
    assert caught.value.line == line
