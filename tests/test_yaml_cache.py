"""The loader's cache of read rule files (cdss/kb/yamlcache.py): a load from the cache gives the same
knowledge base as a load from YAML; an edited rule file is read afresh; a corrupt, swapped or foreign entry
is ignored; and a cache folder others may write to is not used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from cdss import resources
from cdss.engine.direct import DirectEvaluator
from cdss.io import cases
from cdss.kb import loader
from cdss.kb.yamlcache import Cache, Lines, lines_of
from cdss.kb.yamlfile import line_at, read_yaml
from tests.helpers.paths import case_paths


@pytest.fixture
def rules(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped rule folder, and a fresh cache folder of the test's own."""
    folder = tmp_path / "rules"
    shutil.copytree(resources.SHIPPED_RULES_DIR, folder)
    monkeypatch.setenv("CDSS_CACHE", str(tmp_path / "cache"))
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("yaml-*.json"))


def _summary(kb) -> list:
    """What a knowledge base is made of, line numbers included (the node trees compare without them)."""
    return [(rule.id, rule.line, rule.when, rule.then, rule.title, rule.rationale, rule.order, rule.sources)
            for rule in kb.rules] + [kb.identity, kb.manifest, kb.phrases]


def _results(kb) -> list[bytes]:
    engine = DirectEvaluator(kb)
    from cdss.io import jsonbytes
    return [jsonbytes.compact(engine.evaluate(cases.read_case(str(path))).to_dict())
            for path in case_paths()[:40]]


def test_a_load_from_the_cache_is_the_load_from_yaml(rules, tmp_path, monkeypatch):
    monkeypatch.setenv("CDSS_CACHE", "off")
    fresh = loader.load(rules)
    monkeypatch.setenv("CDSS_CACHE", str(tmp_path / "cache"))
    first = loader.load(rules)  # reads the YAML, fills the cache
    entries = _entries(tmp_path / "cache")
    assert len(entries) == len(list(rules.glob("*.yaml")))
    second = loader.load(rules)  # from the cache
    assert _summary(second) == _summary(first) == _summary(fresh)
    assert _results(second) == _results(fresh)


def test_an_edited_rule_file_is_read_again(rules, tmp_path):
    loader.load(rules)
    path = rules / "osteoarthritis.yaml"
    text = path.read_text()
    # a rule whose rationale is written on one line (a folded one is not a substring of the file)
    rule = next(r for r in loader.load(rules).rules if r.file == str(path) and r.rationale.en in text)
    edited = text.replace(rule.rationale.en, rule.rationale.en + " Edited.", 1)
    assert edited != text
    path.write_text(edited)
    after = next(r for r in loader.load(rules).rules if r.id == rule.id)
    assert after.rationale.en == rule.rationale.en + " Edited."


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other shape", "swapped", "empty"])
def test_a_damaged_entry_is_ignored_and_rebuilt(rules, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("CDSS_CACHE", "off")
    fresh = loader.load(rules)
    monkeypatch.setenv("CDSS_CACHE", str(tmp_path / "cache"))
    loader.load(rules)
    entries = _entries(tmp_path / "cache")
    bodies = [entry.read_bytes() for entry in entries]
    for number, entry in enumerate(entries):
        if damage == "garbage":
            entry.write_bytes(b"\x00\xffnot json{")
        elif damage == "truncated":
            entry.write_bytes(bodies[number][: len(bodies[number]) // 2])
        elif damage == "other shape":
            entry.write_text(json.dumps({"format": 1, "data": {"rules": []}, "lines": "x"}))
        elif damage == "swapped":  # another file's (valid) entry under this file's name
            entry.write_bytes(bodies[(number + 1) % len(bodies)])
        else:
            entry.write_bytes(b"")
    assert _summary(loader.load(rules)) == _summary(fresh)
    assert _summary(loader.load(rules)) == _summary(fresh)  # and again, from what was rebuilt
    if damage != "swapped":
        assert [entry.read_bytes() for entry in _entries(tmp_path / "cache")] == bodies


def test_a_folder_others_may_write_to_is_not_used(rules, tmp_path):
    """An entry slipped into a shared folder could change a rule: such a folder is neither read nor written."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    path = rules / "osteoarthritis.yaml"
    raw = path.read_bytes()
    data, node = read_yaml(path, raw)
    rule = data["rules"][0]
    tampered = json.loads(json.dumps(data))
    tampered["rules"][0]["rationale"]["en"] = "Tampered."
    Cache(cache).put(raw, tampered, node)
    assert Cache(cache).get(raw)[0]["rules"][0]["rationale"]["en"] == "Tampered."  # the user's own: trusted
    cache.chmod(0o777)
    assert Cache(cache).get(raw) is None
    loaded = {r.id: r for r in loader.load(rules).rules}
    assert loaded[rule["id"]].rationale.en == rule["rationale"]["en"]


def test_line_numbers_from_the_cache_are_the_yaml_ones(rules):
    """`line_at` walks a cached line tree exactly as it walks the YAML node tree: every place in every rule
    file, and places that do not exist."""
    checked = 0
    for path in sorted(rules.glob("*.yaml")):
        data, node = read_yaml(path)
        lines = lines_of(node)
        stack: list = [([], data)]
        while stack:
            parts, value = stack.pop()
            for extra in ([], ["nope"], [99999], [0], [0, "x"]):
                assert line_at(lines, parts + extra) == line_at(node, parts + extra), (path.name, parts + extra)
                checked += 1
            if isinstance(value, dict):
                stack += [(parts + [key], child) for key, child in value.items()]
            elif isinstance(value, list):
                stack += [(parts + [index], child) for index, child in enumerate(value)]
    assert checked > 10000


def test_a_line_tree_damaged_below_its_top_gives_the_last_good_line_never_an_exception(rules):
    """The line tree is walked only when a line is asked for (not checked whole when read): a node of
    another shape deep in the user's own cache ends the walk at the line above it."""
    path = rules / "osteoarthritis.yaml"
    data, node = read_yaml(path)
    good = lines_of(node)
    first_rule = good.tree[1]["rules"][1][0]
    where = ["rules", 0, "when"]
    assert line_at(good, where) == line_at(node, where) > first_rule[0]
    for damage in ("x", None, [1], [1, 2], ["1", {}], [1, {}, 3], 1.5):
        damaged = json.loads(json.dumps(good.tree))
        damaged[1]["rules"][1][0][1]["when"] = damage
        lines = Lines(damaged)
        assert line_at(lines, where) == first_rule[0], damage
        assert line_at(lines, where + ["all", 0]) == first_rule[0], damage
        assert line_at(lines, ["rules", 0, "title"]) == line_at(node, ["rules", 0, "title"])
    assert line_at(Lines({"not": "a tree"}), ["rules"]) is None


def test_data_that_json_would_change_is_not_cached(tmp_path):
    """YAML may key a mapping by a number; JSON would give the key back as text: such a file is not kept."""
    cache = Cache(tmp_path / "cache")
    raw = b"rules:\n  1: one\n"
    node = yaml.compose(raw.decode())
    cache.put(raw, {"rules": {1: "one"}}, node)
    assert cache.get(raw) is None
    cache.put(raw, {"rules": {"1": "one"}}, node)
    assert cache.get(raw)[0] == {"rules": {"1": "one"}}


def test_without_the_readers_source_there_is_no_cache_but_a_load(rules, tmp_path, monkeypatch):
    """An installation without the .py sources (only byte code) cannot name entries: it loads without them."""
    from cdss.kb import yamlcache, yamlfile
    monkeypatch.setattr(yamlfile, "__file__", str(tmp_path / "gone.py"))
    yamlcache._reader_digest.cache_clear()
    try:
        monkeypatch.setenv("CDSS_CACHE", "off")
        fresh = loader.load(rules)
        monkeypatch.setenv("CDSS_CACHE", str(tmp_path / "cache"))
        assert _summary(loader.load(rules)) == _summary(fresh)
        assert _entries(tmp_path / "cache") == []
    finally:
        yamlcache._reader_digest.cache_clear()


def test_the_vocabulary_is_kept_as_json_and_a_changed_damaged_or_swapped_entry_is_not_used(tmp_path):
    """resources.read_vocabulary with a cache: the second read gives the same data from the entry; an
    edited vocabulary is read afresh; a damaged entry, or another file's entry put in its place, is ignored
    (and written again)."""
    cache = Cache(tmp_path / "cache")
    path = tmp_path / "vocabulary.yaml"
    shutil.copyfile(resources.VOCABULARY_FILE, path)
    fresh = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    assert resources.read_vocabulary(path, cache) == fresh
    entries = sorted((tmp_path / "cache").glob("data-*.json"))
    assert len(entries) == 1
    assert resources.read_vocabulary(path, cache) == fresh  # from the entry
    entry = json.loads(entries[0].read_text())
    entry["data"]["conditions"] = {}
    entries[0].write_text(json.dumps(entry))
    assert resources.read_vocabulary(path, cache)["conditions"] == {}  # the entry is what is read ...
    entries[0].write_text(entries[0].read_text()[:-40])  # ... damaged: ignored and written again
    assert resources.read_vocabulary(path, cache) == fresh
    assert json.loads(entries[0].read_text())["data"] == fresh
    edited = path.read_text(encoding="utf-8").replace("\nconditions:\n", "\nunused_note: edited\nconditions:\n", 1)
    path.write_text(edited, encoding="utf-8")
    assert resources.read_vocabulary(path, cache)["unused_note"] == "edited"
    import hashlib
    edited_sha = hashlib.sha256(path.read_bytes()).hexdigest()[:40]
    [mine] = (tmp_path / "cache").glob(f"data-{edited_sha}-*.json")
    [other] = set((tmp_path / "cache").glob("data-*.json")) - {mine}
    kept = mine.read_bytes()
    mine.write_bytes(other.read_bytes())  # another file's entry under this one's name
    assert resources.read_vocabulary(path, cache)["unused_note"] == "edited"
    assert mine.read_bytes() == kept


def test_a_warm_evaluate_imports_neither_pyyaml_nor_jsonschema(tmp_path):
    """The cache holds every file a load reads (rule files, manifest, phrases, vocabulary), and the case
    check is generated ahead of time: a second `cdss evaluate` needs neither library (their imports were
    ~0.25 G of the ~1.4 G instructions of a cold evaluate). The generated check raises exceptions of its
    own, so fastjsonschema is not imported either, and the package data is found without
    importlib.resources (together ~2 % of a cold evaluate)."""
    import os
    import subprocess
    import sys
    case = str(resources.HOME / "cases" / "osteoarthritis" / "oa-child-knee-pain.json")
    probe = ("import sys; from cdss.cli import main; sys.argv = ['cdss', 'evaluate', sys.argv[1]]\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('yaml', 'jsonschema', 'fastjsonschema', 'importlib.resources')\n"
             "             if m in sys.modules), file=sys.stderr)")
    env = dict(os.environ, CDSS_CACHE=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", probe, case], capture_output=True, text=True, env=env,
                           timeout=300) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout and "Child under 16" in runs[1].stdout
    # the first run reads and validates (jsonschema finds its meta-schemas with importlib.resources)
    assert runs[0].stderr.splitlines()[-1] == "['importlib.resources', 'jsonschema', 'yaml']"
    assert runs[1].stderr.splitlines()[-1] == "[]"
