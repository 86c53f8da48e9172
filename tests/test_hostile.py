"""Hostile input: each gets one clear error, and nothing else is lost (issue 5, item 3)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from cdss import load_knowledge
from cdss.cli import main
from cdss.errors import RuleFileError
from tests.helpers.rulekit import MANIFEST, folder, rule

GOOD = {"id": "ok-1", "patient": {"age_years": 60}, "pain": {"hip": "left", "knee": "left"}}


def evaluate_bytes(tmp_path, content: bytes, name="case.json"):
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["evaluate", str(path)])
    assert "Traceback" not in result.output
    assert result.exit_code == 1
    return str(path), result.output


@pytest.mark.parametrize("content, expected", [
    (b"[" * 10000 + b"]" * 10000, "JSON nested too deeply"),
    (b'{"id": "x", "patient": {"age_years": NaN}}', "invalid JSON: NaN is not a number JSON allows"),
    (b'{"id": "x", "patient": {"age_years": Infinity}}', "invalid JSON: Infinity is not a number JSON allows"),
    (b'{"id": "x", "id": "y", "patient": {"age_years": 40}}', "invalid JSON: duplicate key 'id'"),
    (b'\xef\xbb\xbf{"id": "x", "patient": {"age_years": 40}}', "byte-order mark (BOM)"),
    (b'{"id": "x\\u0007y", "patient": {"age_years": 40}}', '/id: "x\\u0007y" does not match the pattern'),
    (b'{"id": "../../etc/x", "patient": {"age_years": 40}}', '/id: "../../etc/x" does not match the pattern'),
])
def test_hostile_case_content(tmp_path, content, expected):
    path, output = evaluate_bytes(tmp_path, content)
    assert output.startswith(f"cdss: error: {path}: ")
    assert expected in output
    assert "\x07" not in output  # control characters are shown escaped, never sent to the terminal


def test_a_100_mib_case_file_is_refused_by_size_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: refused from its size, never read
    result = CliRunner().invoke(main, ["evaluate", str(path)])
    assert result.exit_code == 1
    assert "the case is 104857600 bytes; a case may hold at most 1048576 (1 MiB)" in result.output


def test_hostile_lines_in_a_batch_lose_nothing_else(tmp_path):
    lines = [json.dumps(GOOD), "[" * 10000 + "]" * 10000, '{"id": "n", "patient": {"age_years": NaN}}',
             '{"id": "d", "id": "e", "patient": {"age_years": 40}}', json.dumps(dict(GOOD, id="../../etc/x")),
             json.dumps(dict(GOOD, id="ok-2")), json.dumps(dict(GOOD, id="big", pad="x" * (2 * 1024 * 1024)))]
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["batch", str(source), "-o", str(out), "--jobs", "2", "--chunk-size", "2"])
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok", "error", "error", "error", "error", "ok", "error"]
    assert [r["error"]["line"] for r in records if r["status"] == "error"] == [2, 3, 4, 5, 7]
    assert "inputs: 7, results: 2, errors: 5" in result.output
    assert not (tmp_path / "etc").exists()


def test_a_rule_file_that_would_construct_python_objects(tmp_path):
    text = "pathway: !!python/object/apply:os.system ['touch pwned']\n"
    with pytest.raises(RuleFileError, match="YAML tags are not allowed"):
        load_knowledge(folder(tmp_path, [], text=text))
    assert not os.path.exists("pwned")


def test_a_billion_laughs_alias_bomb_is_refused_before_expansion(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    with pytest.raises(RuleFileError, match="anchors and aliases are not allowed"):
        load_knowledge(folder(tmp_path, [], text="\n".join(lines) + "\n"))


def test_a_rules_folder_with_a_symlink_loop(tmp_path):
    rules = folder(tmp_path, [rule("t.x", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.y"}])])
    os.symlink(rules / "loop.yaml", rules / "loop.yaml")
    with pytest.raises(RuleFileError, match="loop.yaml: not a regular file"):
        load_knowledge(rules)
    os.remove(rules / "loop.yaml")
    os.symlink(rules, rules / "again.yaml")  # a folder that points at itself
    with pytest.raises(RuleFileError, match="again.yaml: not a regular file"):
        load_knowledge(rules)


def test_a_rule_file_that_is_not_utf8_or_empty(tmp_path):
    rules = folder(tmp_path, [], text="x")
    (rules / "test.yaml").write_bytes(b"pathway: \xff\xfe\n")
    with pytest.raises(RuleFileError, match="test.yaml: not UTF-8 text"):
        load_knowledge(rules)
    with pytest.raises(RuleFileError, match="the file is empty"):
        load_knowledge(folder(tmp_path, [], text="\n"))
    assert MANIFEST["version"]
