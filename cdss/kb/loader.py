"""The one rule loader: a rule folder into a KnowledgeBase (rules, order, version and hash).

Strict mode (the engine's) stops at the first problem: a typo in a field name or a code would otherwise
make a rule silently never fire, so a rule base that does not load stops the run, with the file, the
rule id and the line. Collecting mode (`collect_errors=True`, the audit's) reads the same files with the
same parser as far as they go, records every problem, and keeps every rule that can still be read.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

from typing import TYPE_CHECKING

import attrs
from attrs import define, field

from cdss import resources
from cdss.errors import RuleFileError
from cdss.kb.conditions import references
from cdss.kb import phrases as phrases_module
from cdss.kb import placeholders
from cdss.kb.parser import MAX_CONDITION_DEPTH, RuleParser, condition_depth
from cdss.kb.policy_check import policy_problems
from cdss.kb.rules import KnowledgeBase, Rule, RuleEntry, UnknownField
from cdss.kb.yamlfile import line_at, read_bounded, read_yaml
from cdss.model import DEFAULT_PROFILE, PROFILES, KnowledgeBaseId, Text

if TYPE_CHECKING:
    import jsonschema

MANIFEST = "knowledge_base.yaml"
PHRASES = phrases_module.FILE  # the phrase catalogue: a data file of the folder, not a rule file
NOT_RULE_FILES = (MANIFEST, PHRASES)
TEXT_FIELDS = ("title", "rationale", "limitations")


@define
class _Collector:
    """What collecting mode gathers while it reads (strict mode has none)."""

    errors: list = field(factory=list)
    entries: list = field(factory=list)
    unknown_fields: list[UnknownField] = field(factory=list)
    node_lines: dict = field(factory=dict)
    documents: dict = field(factory=dict)

    def add(self, error: RuleFileError) -> None:
        self.errors.append(error)


def _schema_error(file: str, data, root, validator) -> RuleFileError | None:
    # jsonschema is imported where it checks: a rule base whose validation marker is set (every load after
    # the first) never needs it, and its import was ~0.3 G instructions of a cold `cdss evaluate`.
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    parts = list(error.absolute_path)
    rule_id = None
    if len(parts) >= 2 and parts[0] == "rules" and isinstance(data, dict):
        rules = data.get("rules")
        if isinstance(rules, list) and isinstance(parts[1], int) and isinstance(rules[parts[1]], dict):
            rule_id = rules[parts[1]].get("id")
    where = "/" + "/".join(map(str, parts))
    message = error.message if len(error.message) < 300 else error.message[:300] + "..."
    if error.validator == "oneOf" and parts:
        message = f"not a valid condition or conclusion at {where}"
    return RuleFileError(file, f"{where}: {message}", rule_id=rule_id, line=line_at(root, parts))


def _validator(name: str, part: str | None = None) -> jsonschema.Draft202012Validator:
    schema = resources.schema(name)
    if part is not None:
        schema = {"$ref": f"#/$defs/{part}", "$defs": schema["$defs"]}
    return resources.validator_for(schema)


def rule_files(directory: Path) -> list[Path]:
    """The rule files of a folder, by name; symlinks that leave the folder or loop are refused."""
    try:
        entries = sorted(p for p in directory.iterdir()
                         if p.suffix in (".yaml", ".yml") and p.name not in NOT_RULE_FILES)
    except OSError as error:
        raise RuleFileError(str(directory), f"cannot read the rule folder: {error.strerror or error}",
                            kind="file") from None
    for path in entries:
        _check_inside(directory, path)
    return entries


def _check_inside(directory: Path, path: Path) -> None:
    """A rule file is a regular file of the folder: a symlink may point only inside it, so that a rule
    folder cannot be made to read (and echo in its errors) a file from elsewhere."""
    if not path.is_file():
        raise RuleFileError(str(path), "not a regular file (a fifo, a device, or a broken or looping symlink?)", kind="file")
    if path.is_symlink():
        try:
            inside = path.resolve(strict=True).is_relative_to(directory.resolve(strict=True))
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise RuleFileError(str(path), "a symlink to a file outside the rule folder; rule files must live in "
                                           "the folder (copy the file in)", kind="file")


def load(directory: str | Path | None = None, *, profile: str = DEFAULT_PROFILE,
         collect_errors: bool = False) -> KnowledgeBase:
    """Load, check and order the rules of a folder (the shipped one by default) that belong to a guideline
    profile (`nice` by default, or `nhg`): a rule whose `profiles` leave the profile out is checked like
    every other rule but not kept, so a typo in an `nhg:` rule stops a `nice` run too.

    Strict: raises RuleFileError on the first problem. Collecting: never raises for a problem in the
    rules; the knowledge base lists them in `errors` and holds every rule that could be read."""
    if profile not in PROFILES:
        raise RuleFileError(str(directory or resources.DEFAULT_RULES_DIR),
                            f"unknown guideline profile {profile!r}; expected one of {', '.join(PROFILES)}",
                            kind="file")
    collect = _Collector() if collect_errors else None
    directory = Path(directory) if directory else resources.DEFAULT_RULES_DIR

    def problem(error: RuleFileError) -> None:
        if collect is None:
            raise error
        collect.add(error)

    manifest, manifest_root, files, digest, contents = {}, None, [], hashlib.sha256(), {}
    if not directory.is_dir():
        problem(RuleFileError(str(directory), "not a folder of rule files", kind="file"))
    else:
        try:
            files = rule_files(directory)
        except RuleFileError as error:
            problem(error)
        if not files:
            problem(RuleFileError(str(directory), "no rule files (*.yaml) in the folder", kind="file"))
        phrases_path = directory / PHRASES
        own_phrases = [phrases_path] if phrases_path.exists() or phrases_path.is_symlink() else []
        for path in [directory / MANIFEST] + own_phrases + files:
            try:
                if path.name in NOT_RULE_FILES and path.exists():
                    _check_inside(directory, path)
                contents[path] = read_bounded(path)
            except RuleFileError as error:
                if path.exists() or path.is_symlink():
                    problem(RuleFileError(error.file, error.message, kind="file"))
                continue  # a missing manifest is reported when it is read
            digest.update(path.name.encode() + b"\0" + contents[path] + b"\0")
    marker = _validated_marker(digest.hexdigest()) if collect is None else None
    already_valid = marker is not None and marker.exists()
    cache = _yaml_cache() if collect is None else None  # collecting mode keeps YAML node trees
    if directory.is_dir():
        manifest, manifest_root = _read_manifest(directory, contents.get(directory / MANIFEST), problem,
                                                 already_valid, cache)
    files = [path for path in files if path in contents]
    rules: list[Rule] = []
    seen: dict[str, tuple[str, int | None]] = {}
    for path in files:
        _read_rule_file(path, contents[path], rules, seen, problem, collect, already_valid, cache)
    for error in _reference_errors(rules):
        problem(error)
    asserted = {c.data["name"] for rule in rules for c in rule.then if c.kind == "assert"}
    for where, message in policy_problems(manifest, asserted):
        parts = [int(p) if p.isdigit() else p for p in where.strip("/").split("/")]
        problem(RuleFileError(str(directory / MANIFEST), f"{where}: {message}", line=line_at(manifest_root, parts),
                              kind="reference"))
    rules = _of_profile(rules, profile)
    phrases = _read_phrases(directory, contents.get(directory / PHRASES), rules, problem, already_valid, cache)
    if marker is not None and not already_valid:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # private: see yamlcache
            marker.touch()
        except OSError:
            pass  # no cache: the next load validates again
    version = str(manifest.get("version", "0.0.0")) if isinstance(manifest, dict) else "0.0.0"
    extra = {}
    if collect is not None:
        extra = dict(errors=tuple(collect.errors), entries=tuple(collect.entries),
                     unknown_fields=tuple(collect.unknown_fields), node_lines=collect.node_lines,
                     documents=collect.documents)
    return KnowledgeBase(directory=str(directory), rules=tuple(rules), manifest=manifest,
                         identity=KnowledgeBaseId(version, digest.hexdigest(), profile),
                         files=tuple(str(p) for p in files), phrases=phrases, **extra)


load_knowledge = load  # the name the public facade gives it


def _read_phrases(directory: Path, raw: bytes | None, rules: list[Rule], problem,
                  already_valid: bool, cache=None) -> phrases_module.Phrases:
    """The folder's phrase catalogue (`raw`: its bytes, None when the folder has none: then the shipped
    catalogue), checked against schemas/phrases.schema.json, the case schema's fields and the placeholders
    each template may use. A fact's fallback words are the title of the first rule that asserts it."""
    path = directory / PHRASES
    own = raw is not None
    if not own:
        path = resources.SHIPPED_RULES_DIR / PHRASES  # not CDSS_RULES: that may be a folder without one
        if not path.is_file():  # pragma: no cover - a broken installation
            problem(RuleFileError(str(path), "the shipped phrase catalogue is missing", kind="file"))
            return phrases_module.EMPTY
    try:
        data, root = read_yaml(path, raw, cache)
    except RuleFileError as error:
        problem(RuleFileError(error.file, error.message, line=error.line, kind="file"))
        return phrases_module.EMPTY
    if not (own and already_valid):
        error = _schema_error(str(path), data, root, _validator("phrases"))
        if error is not None:
            problem(RuleFileError(error.file, error.message, line=error.line, kind="file"))
            return phrases_module.EMPTY
        for parts, message in phrases_module.field_problems(data) + phrases_module.template_problems(data):
            problem(RuleFileError(str(path), message, line=line_at(root, parts), kind="file"))
    titles: dict[str, Text] = {}
    for rule in rules:
        for conclusion in rule.then:
            if conclusion.kind == "assert":
                titles.setdefault(conclusion.data["name"], rule.title)
    return phrases_module.from_data(data, titles)


def _read_manifest(directory: Path, raw: bytes | None, problem, already_valid: bool = False,
                   cache=None) -> tuple[dict, object]:
    """The manifest (`raw`: its bytes, None when it could not be read) and its YAML node tree (for lines),
    or ({}, None). `already_valid`: these bytes passed the schema before (the marker names its hash)."""
    path = directory / MANIFEST
    if raw is None:
        if not path.exists() and not path.is_symlink():
            problem(RuleFileError(str(path), "missing: a rule folder needs a knowledge_base.yaml (name, version)",
                                  kind="file"))
        return {}, None
    try:
        manifest, root = read_yaml(path, raw, cache)
    except RuleFileError as error:
        problem(error)
        return {}, None
    error = None if already_valid else _schema_error(str(path), manifest, root, _validator("knowledge_base"))
    if error is not None:
        problem(error)
        return {}, root  # its policy sections cannot be trusted
    return (manifest if isinstance(manifest, dict) else {}), root


def _too_deep(name: str, data, root, problem) -> set[int]:
    """Refuse every rule whose condition nests deeper than MAX_CONDITION_DEPTH, before the schema
    validator, the parser or the engine recurse into it: one clear error, never a RecursionError. Returns
    the indexes of those rules (collecting mode skips them)."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return set()
    found = set()
    for index, raw in enumerate(data["rules"]):
        if isinstance(raw, dict) and condition_depth(raw.get("when")) > MAX_CONDITION_DEPTH:
            rule_id = raw.get("id") if isinstance(raw.get("id"), str) else None
            found.add(index)
            problem(RuleFileError(name, f"the condition is nested more than {MAX_CONDITION_DEPTH} deep",
                                  rule_id=rule_id, line=line_at(root, ["rules", index, "when"])))
    return found


def _read_rule_file(path: Path, raw: bytes, rules: list[Rule], seen: dict, problem, collect,
                    already_valid: bool, cache=None) -> None:
    name = str(path)
    try:
        data, root = read_yaml(path, raw, cache)
    except RuleFileError as error:
        problem(RuleFileError(error.file, error.message, line=error.line, kind="file"))
        return
    too_deep = _too_deep(name, data, root, problem)
    if collect is None:
        if not already_valid:
            error = _schema_error(name, data, root, _validator("rule"))
            if error is not None:
                problem(error)
    elif not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        problem(RuleFileError(name, "a rule file holds `pathway`, `title` and a list of `rules`", line=1, kind="file"))
        return
    else:
        collect.documents[name] = (data, root)
    pathway = data.get("pathway") if isinstance(data.get("pathway"), str) else path.stem
    rule_validator = _validator("rule", "rule") if collect is not None else None
    for index, raw in enumerate(data["rules"]):
        if index in too_deep:
            continue
        line = line_at(root, ["rules", index])
        if not isinstance(raw, dict):
            problem(RuleFileError(name, "a rule is a mapping (id, title, status, ...)", line=line))
            continue
        rule_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        status = raw.get("status") if isinstance(raw.get("status"), str) else None
        entry = RuleEntry(rule_id, name, line, index, raw, status)
        if rule_id is None:
            problem(RuleFileError(name, "the rule has no id", line=line))
            _keep(collect, entry)
            continue
        if rule_id in seen:
            first = seen[rule_id]
            _keep(collect, RuleEntry(rule_id, name, line, index, raw, status, duplicate_of=first))
            problem(RuleFileError(name, f"duplicate rule id (first defined in {Path(first[0]).name}:{first[1]})",
                                  rule_id=rule_id, line=line, kind="duplicate"))
            continue
        seen[rule_id] = (name, line)
        if collect is not None:
            # Missing sources or Dutch text are findings of their own (the audit's text check); the rule is
            # still read so that everything else about it can be judged.
            patched = _with_placeholder_texts(raw)
            if patched != raw:
                problem(RuleFileError(name, "a source or an English or Dutch text is missing", rule_id=rule_id,
                                      line=line, kind="text"))
            raw = patched
            from jsonschema.exceptions import best_match  # see _schema_error

            best = best_match(rule_validator.iter_errors(raw))
            if best is not None:
                parts = list(best.absolute_path)
                message = best.message if len(best.message) < 200 else best.message[:200] + "..."
                problem(RuleFileError(name, f"/{'/'.join(map(str, parts))}: {message}", rule_id=rule_id,
                                      line=line_at(root, ["rules", index] + parts)))
                _keep(collect, entry)
                continue
        if raw["status"] == "deprecated":
            _keep(collect, entry)
            continue
        parser = RuleParser(name, root, index, rule_id, collect)
        try:
            when, lookups = parser.condition(raw["when"], ["when"]), raw.get("lookups", {})
            rule = Rule(
                id=rule_id, title=Text(**raw["title"]), status=raw["status"], sources=tuple(raw["sources"]),
                when=when, then=tuple(parser.conclusion(c, ["then", i]) for i, c in enumerate(raw["then"])),
                rationale=Text(**raw["rationale"]), pathway=pathway, file=name, line=line or 0,
                order=len(rules), profiles=tuple(raw.get("profiles", PROFILES)), lookups=lookups,
                placeholders=_check_placeholders(rule_id, when, lookups, raw, name, root, index))
        except RuleFileError as error:
            problem(error)
            _keep(collect, entry)
            continue
        rules.append(rule)
        _keep(collect, RuleEntry(rule_id, name, line, index, entry.raw, status, rule))


def _check_placeholders(rule_id: str, when, lookups: dict, raw: dict, file: str, root, index: int) -> bool:
    """Whether the rule's texts name case facts; a placeholder it cannot fill is a load error."""
    texts, places = {}, {}
    for lang in ("en", "nl"):
        texts[f"rationale.{lang}"], places[f"rationale.{lang}"] = raw["rationale"][lang], ["rationale", lang]
        for i, conclusion in enumerate(raw["then"]):
            if "warn" in conclusion:
                where = f"then.{i}.warn.{lang}"
                texts[where], places[where] = conclusion["warn"][lang], ["then", i, "warn", lang]
    for name in lookups:
        places[f"lookups.{name}"] = ["lookups", name]
    fail = placeholders.refuse(file, rule_id, lambda where: line_at(root, ["rules", index] + places.get(where, [])))
    return placeholders.check(rule_id, when, texts, lookups, fail)


def _of_profile(rules: list[Rule], profile: str) -> list[Rule]:
    """The rules of one profile, renumbered in rule-base order. Every rule was read and cross-checked
    first (facts asserted only by another profile's rules count), so that both profiles load or neither."""
    kept = [rule for rule in rules if profile in rule.profiles]
    if len(kept) == len(rules):
        return rules
    return [attrs.evolve(rule, order=order) for order, rule in enumerate(kept)]


def _keep(collect, entry: RuleEntry) -> None:
    if collect is not None:
        collect.entries.append(entry)


def _with_placeholder_texts(raw: dict) -> dict:
    """A copy that the rule schema accepts despite missing sources or Dutch text."""
    patched = copy.deepcopy(raw)
    sources = patched.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and len(s) >= 3 for s in sources):
        patched["sources"] = ["(missing)"]
    for name in TEXT_FIELDS:
        text = patched.get(name)
        if isinstance(text, dict):
            en = text.get("en") if isinstance(text.get("en"), str) and text.get("en") else "(missing)"
            nl = text.get("nl") if isinstance(text.get("nl"), str) and text.get("nl") else en
            patched[name] = {"en": en, "nl": nl}
    for conclusion in patched.get("then", ()) if isinstance(patched.get("then"), list) else ():
        warn = conclusion.get("warn") if isinstance(conclusion, dict) else None
        if isinstance(warn, dict):
            warn.setdefault("en", "(missing)")
            if not isinstance(warn.get("nl"), str) or not warn.get("nl"):
                warn["nl"] = warn.get("en") or "(missing)"
    return patched


def _cache_folder() -> Path | None:
    """Where the loader keeps what spares work on the next load (yamlcache.default_folder)."""
    from cdss.kb.yamlcache import default_folder
    return default_folder()


def _yaml_cache():
    """The cache of read YAML files (cdss/kb/yamlcache.py), or None."""
    folder = _cache_folder()
    if folder is None:
        return None
    from cdss.kb.yamlcache import Cache
    return Cache(folder)


def _validated_marker(rules_digest: str) -> Path | None:
    """A marker that these exact rule bytes (the manifest's and phrases' too) passed their schemas (hashed in
    the name): JSON Schema validation is most of a cold load, and a rule base that was valid stays valid.
    Everything else (YAML safety, field paths, codes, references) is checked on every load. CDSS_CACHE=off
    disables it."""
    base = _cache_folder()
    if base is None:
        return None
    schema_digest = hashlib.sha256(resources.schema_bytes("rule") + resources.schema_bytes("phrases")
                                   + resources.schema_bytes("case")
                                   + resources.schema_bytes("knowledge_base")).hexdigest()
    return base / f"rules-valid-{rules_digest[:32]}-{schema_digest[:16]}"


def _reference_errors(rules: list[Rule]) -> list[RuleFileError]:
    """A fact that no rule asserts is a typo or a dead branch: refused at load time."""
    asserted = {c.asserts for rule in rules for c in rule.then if c.asserts}
    return [RuleFileError(rule.file, f"tests fact {ref[1]!r}, which no rule asserts", rule_id=rule.id,
                          line=rule.line, kind="reference")
            for rule in rules for ref in sorted(references(rule.when))
            if ref[0] == "fact" and ref not in asserted]
