"""Compile a KnowledgeBase into durable-rules rulesets: strata, pushed patterns, and partitions.

Three ideas keep durable-rules honest here:
- Strata. durable-rules decides a negated pattern when facts are inserted, so a rule that tests the
  absence of something (under `not`, `any`, `count` or `score`) belongs to a stratum after every rule that
  can assert it, and the engine fires pending rules stratum by stratum (lowest rule-base index first within
  one): a rule of a higher stratum may be woken early, but it fires only once every lower stratum has
  reached its fixpoint. So no phase token has to gate each rule (a token per stratum, hung on every rule,
  made every dormant rule cost ~1 us per case and put 210 beta nodes on one alpha node), and rulesets need
  not follow strata: rulesets of one stratum each had been given the case's facts again (half of them).
- Pushed tests. A rule's top-level positive tests (a field value, a fact, a condition, a red flag)
  become durable-rules patterns, so the Rete network decides which rules may fire and chaining through
  derived facts is the engine's own. When a rule's action runs, its whole condition is evaluated once
  more on the case's complete knowledge; that check, not the pattern, decides whether it fires.
  Only a rule with no positive pattern to wake it gets its partition's token as first pattern.
- Settled things. A derived thing asserted only by rules on case fields (`derived.adult`) is there for good,
  or absent for good, once the last of those rules has been taken; a rule ranked after them is given no
  pattern on it (`_settled`), its check decides, and its lazy ruleset still waits for it. The fact had been
  linked to every one of its ~300 patterns in every case (-10 % of a durable-rules worker's instructions).
- Partitions. durable-rules refuses a ruleset past fixed limits of its C core (cdss/engine/capacity.py).
  The rules are packed into as many rulesets as keep every limit under its budget: first the rules that
  case facts alone may wake (given the case's facts at once), then the lazy ones, rules that each need a
  derived thing, gathered by what they need. A lazy ruleset is given the case's facts only once the case
  has derived all that one of its rules needs: Rete links a case fact to every pattern that tests it,
  whether or not the rule's other patterns can ever be met, so a rule whose derived facts a case lacks had
  cost that case ~650 instructions for nothing (a dormant rule; now ~50, bench/scaled_rules.py). A derived
  fact goes to every ruleset that tests it, once the stratum of its first rule there that tests it opens.
- A property per thing. durable-rules looks up the alpha tests a fact may meet by the hash of each of the
  fact's property names, and compares the value only for tests on a property of that name (handleAlpha in
  its src/rules/events.c). So every field, list, derived fact, condition, red flag and treatment that a
  pattern tests is a property of its own (`o:age_years`, `f:adult`, ...), and a fact meets only the tests on
  its own thing. Facts named by a value ({"k": path, "v": value}) had met every test of every name of their
  kind: ~60 string comparisons per case fact, ~40 % of the C core's work per case.
"""

from __future__ import annotations

import re

from attrs import field, frozen

from cdss.engine import capacity
from cdss.engine.capacity import thing_property
from cdss.errors import RuleFileError
from cdss.kb.conditions import Any_, ConditionTest, FactTest, FieldTest, Node, RedFlagTest, TrialTest, references, top_level_tests
from cdss.kb.fields import field_catalogue
from cdss.kb.rules import KnowledgeBase, Rule

# durable-rules 2.0.28 limits (shared/notes/durable-rules.md, trap 8): error 303 past 64 alpha tests matched
# by one fact. Each value tested costs every fact of its field an alpha test, so past this many distinct
# tests of one field the extra tests stay in the action's check (exact, and a cost only for the rule
# itself). The other limits are kept per ruleset by the partitioning (capacity.py).
MAX_DISTINCT_TESTS_PER_FIELD = 40
SCALAR_PUSHABLE_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "present")
# A top-level `any` becomes one durable-rules rule per alternative (sharing one action), up to this many.
MAX_VARIANTS = 12
NEGATED = "$negated"  # marks a pattern compiled as a durable-rules `alias$not`
TRIAL_KEY = "trial:"  # the case facts a trial pattern reads: `trial:<treatment code>`
# What no fact has: the sinks' second pattern, so that no sink ever fires.
NEVER = "never"
# The groups of things (Properties): each fact carries its thing's group, and a sink per group matches it,
# so that no fact is left unhandled (trap 2).
GROUPS, GROUP_PROPERTIES = capacity.GROUPS, capacity.GROUP_PROPERTIES
# A thing's property: its kind's prefix and its name (`o:` a scalar field, `l:` the elements of a list field,
# `f:` a derived fact, `c:` a condition, `r:` a red flag and `r:any` every red flag, `x:` a treatment).
PREFIX = {"field": "o:", "list": "l:", "fact": "f:", "condition": "c:", "red_flag": "r:", "trial": "x:"}
# The properties facts have besides their things'.
FIXED_PROPERTIES = ("sid", "id", "t", "k", NEVER, "failed", "running", "good", "$s", "$f")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,80}")


@frozen
class CompiledRule:
    rule: Rule
    stratum: int
    index: int  # the rule's place in the rule base: the engines fire pending rules lowest index first
    variants: tuple  # one ((alias, durable pattern), ...) per durable-rules rule that can wake this rule
    tokened: bool = False  # some variant has no positive pattern: its partition's token comes first
    # Per variant, every pushed pattern, those on settled things included (`_settled`): the direct engine's
    # gates, which are identical whatever durable-rules is given. None: the same as `variants`.
    gated: tuple | None = field(default=None, kw_only=True, eq=False, repr=False)
    # Per variant, the tests that must all hold for it (variants_of, in the same order as `variants`): the
    # direct engine gates each variant on what the case must hold for them. Required: with none, the direct
    # engine would see no variant to wake the rule by.
    tests: tuple = field(kw_only=True, eq=False, repr=False)

    def names(self) -> list[str]:
        """The durable-rules rule names of this rule's variants."""
        return [self.rule.id if number == 0 else f"{self.rule.id}#{number}" for number in range(len(self.variants))]


@frozen
class Partition:
    """One durable-rules ruleset: its rules (of any strata, in rule-base order), and the facts it must be given."""

    name: str
    strata: tuple[int, ...]
    rules: tuple[CompiledRule, ...]
    scalar_paths: frozenset[str]
    list_paths: frozenset[str]
    trials: frozenset[str]  # the treatment codes its patterns test
    tokened: bool
    usage: capacity.Usage
    # Every rule needs derived things (in each variant): the engine gives the ruleset its case facts only
    # once a case has derived every thing some variant needs (`requires`, one set per variant), so a
    # ruleset whose rules need what a case never derives costs that case nothing.
    lazy: bool = False
    requires: tuple = field(default=(), eq=False)
    # derived thing its patterns test -> the lowest stratum of its rules that test it: the engine asserts a
    # derived fact into the ruleset only once that stratum's rules fire (cdss/engine/durable.py)
    first_tested: dict = field(factory=dict, eq=False)

    def definition(self) -> dict:
        """The partition's durable-rules ruleset definition: each rule's patterns, and no action (the engine
        takes every activation from the C core itself and fires the rule; see cdss/engine/durable.py)."""
        return _definition(self.rules)

    def rules_by_name(self) -> dict[str, CompiledRule]:
        return {name: item for item in self.rules for name in item.names()}


@frozen
class Program:
    """What the engines need: rules by stratum, the partitions that lay them out for durable-rules, and
    which case fields and derived things must be asserted as durable-rules facts (the rest are read
    straight from the case)."""

    compiled: tuple[CompiledRule, ...]
    strata: tuple[int, ...]
    partitions: tuple[Partition, ...]
    scalar_paths: frozenset[str]
    list_paths: frozenset[str]
    pushed_refs: frozenset[tuple[str, str]]
    trials: bool = False  # whether treatment trials are asserted as facts
    # thing (("field", path), ("fact", name), ...) -> its durable-rules property, for every thing a pattern tests
    properties: dict = field(factory=dict, eq=False)
    groups: dict = field(factory=dict, eq=False)  # a thing's property -> its group's property (Properties)

    def things(self) -> dict[str, tuple[str, str]]:
        """durable-rules property -> the thing it stands for."""
        return {name: thing for thing, name in self.properties.items()}


def _definition(rules) -> dict:
    definition: dict = {}
    for item in rules:
        for name, patterns in zip(item.names(), item.variants):
            definition[name] = {"all": [{alias: pattern} for alias, pattern in patterns]}
    # Sinks: every fact is matched by something, else durable-rules raises MessageNotHandled and leaves
    # pending activations behind (trap 2). A fact carries its thing's group (Properties), and the sink of
    # each group the ruleset's patterns start with matches it; it joins with a fact never asserted.
    groups = {name for item in rules for patterns in item.variants for _, pattern in patterns
              if (name := next(iter(pattern["$and"][0].get("$ex", ())), None)) in GROUP_PROPERTIES}
    for name in sorted(groups, key=GROUP_PROPERTIES.index):
        definition[f"sink.{name}"] = {"all": [{"x": _exists(name)}, {"never": _exists(NEVER)}]}
    return definition


class Properties:
    """Names each thing a pattern tests as a durable-rules property, in the order the rules first test them,
    and puts it in one of GROUPS groups.

    durable-rules keeps an alpha node's child tests in a table of 512 slots probed linearly from one of
    only 32 start slots (NEXT_BUCKET_LENGTH and HASH_MASK in its src/rules/rules.h), so looking up each of a
    fact's properties walks past nearly every child: a root with the ~280 first tests of a ruleset's
    patterns made that walk ~20 % of a case's work. So every pattern starts with its thing's group, a
    property each fact of the group carries (`g3`): the root has a few children, and each group's tests
    are few. durable-rules tells properties apart by a 32-bit FNV-1a hash of the name alone (two names
    that hash alike would be one property to it), so a name that would collide with another gets a suffix."""

    def __init__(self):
        self.names: dict[tuple[str, str], str] = {}
        self.groups: dict[str, str] = {}  # a thing's property -> its group's property
        self._hashes = {fnv1a_32(name) for name in FIXED_PROPERTIES + GROUP_PROPERTIES}

    def of(self, thing: tuple[str, str]) -> str:
        name = self.names.get(thing)
        if name is None:
            kind, what = thing
            base = PREFIX[kind] + (what if _PLAIN_NAME.fullmatch(what) else f"#{len(self.names)}")
            name, suffix = base, 0
            while fnv1a_32(name) in self._hashes:
                suffix += 1
                name = f"{base}~{suffix}"
            self._hashes.add(fnv1a_32(name))
            self.groups[name] = GROUP_PROPERTIES[len(self.names) % GROUPS]
            self.names[thing] = name
        return name

    def chain(self, name: str, *tests: dict) -> dict:
        """A pattern on the thing whose property is `name`: its group's test, then its own tests."""
        return {"$and": [_exists(self.groups[name]), *tests]}


def fnv1a_32(name: str) -> int:
    """durable-rules' hash of a property name (getStringAndHash in its src/rules/json.c), for the plain ASCII
    names Properties makes."""
    value = 0x811C9DC5
    for char in name.encode("ascii"):
        value = ((value ^ char) * 16777619) & 0xFFFFFFFF
    return value


def _exists(name: str) -> dict:
    return {"$ex": {name: 1}}


def _and(*tests: dict) -> dict:
    return {"$and": list(tests)}


def _one_of(key: str, values) -> dict:
    values = list(values)
    return {key: values[0]} if len(values) == 1 else {"$or": [{key: v} for v in values]}


def _core_readable(value) -> bool:
    """durable-rules' JSON reader takes an exponent only after a fraction: a threshold such as 0.00001
    (which Python writes 1e-05) would make the ruleset fail to build. Such a test stays in the action."""
    if isinstance(value, tuple):
        return all(_core_readable(v) for v in value)
    return not (isinstance(value, float) and "e" in repr(value) and "." not in repr(value))


def _field_pattern(test: FieldTest, properties: Properties) -> dict | None:
    catalogue = field_catalogue()
    op, value = test.op, test.operand
    if catalogue[test.path].get("type") == "array":
        if op not in ("absent", "contains", "contains_any"):
            return None
        name = properties.of(("list", test.path))
        if op == "absent":
            return {NEGATED: properties.chain(name, _exists(name))}
        if op == "contains":
            return properties.chain(name, {name: value})
        return properties.chain(name, _one_of(name, value))
    if op == "absent":
        # Every case fact a ruleset tests is asserted before any derived fact, so a negated pattern over
        # case facts is decided on complete knowledge (trap 6 concerns facts asserted later).
        name = properties.of(("field", test.path))
        return {NEGATED: properties.chain(name, _exists(name))}
    if catalogue[test.path].get("type") == "object" or op not in SCALAR_PUSHABLE_OPS:
        return None
    name = properties.of(("field", test.path))
    if op == "present" or not isinstance(value, (str, int, float, bool, tuple, type(None))):
        # Compared with another field (trap 11: no cross-fact comparisons in patterns): push only that
        # this field is present, a necessary condition; the action's check compares.
        return properties.chain(name, _exists(name))
    if not _core_readable(value):
        return properties.chain(name, _exists(name))  # only the field's presence; the action's check compares
    if op == "eq":
        return properties.chain(name, {name: value})
    if op == "in":
        return properties.chain(name, _one_of(name, value))
    durable_op = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}[op]
    return properties.chain(name, {durable_op: {name: value}})


# A pattern's text, equal for equal tests: every mapping in a pattern has one key (`_and`, `_one_of`,
# `_field_pattern` build them so), so its repr is as canonical as sorted JSON, and 1, 1.0 and True stay
# apart as they do in JSON, at a fraction of the cost (json.dumps was ~4 % of a cold `cdss evaluate`).
# capacity.py counts alpha tests by their repr for the same reason.
_signature = repr


def _pattern(test: Node, properties: Properties) -> tuple[dict, tuple[str, str] | None, str | None] | None:
    """(durable pattern, the derived ref it consumes, the obs key it reads) or None if not pushable. A
    negated field pattern reads its key too: the key's facts must be asserted for the negation to see them."""
    if isinstance(test, FieldTest):
        pattern = _field_pattern(test, properties)
        if pattern is None:
            return None
        return pattern, None, test.path + ("[]" if field_catalogue()[test.path].get("type") == "array" else "")
    if isinstance(test, FactTest):
        name = properties.of(("fact", test.name))
        return properties.chain(name, {name: True}), ("fact", test.name), None
    if isinstance(test, ConditionTest):
        name = properties.of(("condition", test.code))
        return properties.chain(name, _one_of(name, test.statuses)), ("condition", test.code), None
    if isinstance(test, TrialTest):
        if test.min_weeks is not None:
            return None  # the trial facts carry the default limit only
        name = properties.of(("trial", test.code))
        tests = [_exists(name) if test.joint is None else _one_of(name, (test.joint, "*"))]
        if test.outcome != "any":
            tests.append({test.outcome: True})
        return properties.chain(name, *tests), None, TRIAL_KEY + test.code
    if isinstance(test, RedFlagTest):
        ref = ("red_flag", test.code)  # `red_flag: any` tests ("red_flag", "any"), met by every red flag
        name = properties.of(ref)
        return properties.chain(name, _one_of(name, test.urgencies)), ref, None
    return None


def compile_knowledge(kb: KnowledgeBase) -> Program:
    """Stratify the rules and build each one's patterns."""
    asserters: dict[tuple[str, str], list[int]] = {}
    for index, rule in enumerate(kb.rules):
        for conclusion in rule.then:
            if conclusion.asserts:
                asserters.setdefault(conclusion.asserts, []).append(index)
                if conclusion.asserts[0] == "red_flag":
                    asserters.setdefault(("red_flag", "any"), []).append(index)

    distinct_per_key: dict[str, set[str]] = {}
    properties = Properties()
    plans = []
    for rule in kb.rules:
        variants, pushed_refs, strict_refs, keys = [], set(), set(), set()
        variant_tests = variants_of(rule.when)
        for tests in variant_tests:
            pushed = []
            for test in tests:
                made = _pattern(test, properties)
                if made is None:
                    continue
                pattern, ref, key = made
                if key is not None and not key.startswith(TRIAL_KEY):
                    found = distinct_per_key.setdefault(key, set())
                    signature = _signature(pattern)
                    if signature not in found and len(found) >= MAX_DISTINCT_TESTS_PER_FIELD:
                        continue
                    found.add(signature)
                pushed.append((test, pattern, ref, key))
            pushed = _one_pattern_per_fact(pushed)
            in_pattern = {id(item[0]) for item in pushed}
            for test in tests:
                if id(test) not in in_pattern:
                    strict_refs |= references(test)
            variants.append(tuple((item[1], item[2]) for item in pushed if item[1] is not None))
            for _, pattern, ref, key in pushed:
                if pattern is None:
                    continue
                if ref is not None:
                    pushed_refs.add(ref)
                if key is not None:
                    keys.add(key)
        plans.append((rule, variants, pushed_refs, strict_refs, keys, tuple(map(tuple, variant_tests))))

    strata = _stratify(kb, plans, asserters)
    settled = _settled(plans, strata, asserters)
    compiled, all_pushed_refs = [], set()
    for index, ((rule, variants, pushed_refs, _, _, variant_tests), stratum) in enumerate(zip(plans, strata)):
        gated = tuple(_lay_out([pattern for pattern, _ in patterns]) for patterns in variants)
        kept = []
        for patterns in variants:
            left = [(pattern, ref) for pattern, ref in patterns if settled.get(ref, (stratum, index)) >= (stratum, index)]
            kept.append(left if any(NEGATED not in pattern for pattern, _ in left) else patterns)
        # (in the plan itself: the rulesets are given only the derived facts their patterns now test)
        pushed_refs.intersection_update(ref for patterns in kept for _, ref in patterns)
        laid_out = tuple(_lay_out([pattern for pattern, _ in patterns]) for patterns in kept)
        compiled.append(CompiledRule(rule, stratum, index, laid_out,
                                     tokened=any(patterns[0][0] == "token" for patterns in laid_out),
                                     tests=variant_tests, gated=gated if gated != laid_out else None))
        all_pushed_refs |= pushed_refs
    partitions = _partition(compiled, plans, _requirements(compiled, properties))
    return Program(tuple(compiled), tuple(sorted(set(strata))), partitions,
                   frozenset(path for p in partitions for path in p.scalar_paths),
                   frozenset(path for p in partitions for path in p.list_paths),
                   frozenset(all_pushed_refs), any(p.trials for p in partitions), properties.names,
                   properties.groups)


def _settled(plans, strata, asserters) -> dict[tuple[str, str], tuple[int, int]]:
    """Derived things settled early: every rule that asserts one tests nothing derived (its patterns are on
    case fields alone, so durable-rules wakes it as the case's facts go in, and it is pending from the
    start), so once the last of them, by (stratum, index), has been taken, the thing is there for good or
    absent for good. Thing -> that rule's (stratum, index). A later rule needs no pattern on it to be woken
    by: the engines take pending rules in that order, so it is never checked before the thing is settled,
    and its whole condition is checked then. The facts of `derived.adult`, tested by ~300 rules, had been
    linked to every one of their patterns in each case."""
    case_only = {index for index, plan in enumerate(plans) if not plan[2] and not plan[3]}
    return {ref: max((strata[index], index) for index in sources) for ref, sources in asserters.items()
            if all(index in case_only for index in sources)}


def _lay_out(patterns) -> tuple:
    """One variant's ((alias, pattern), ...): positive patterns first (a durable-rules rule cannot start
    with a negation), then the negated ones; with no positive pattern at all, the partition's token
    wakes the rule and its whole condition is left to the action's check."""
    positive = [(f"m{i}", p) for i, p in enumerate(patterns) if NEGATED not in p]
    negated = [(f"m{i}$not", p[NEGATED]) for i, p in enumerate(patterns) if NEGATED in p]
    if not positive:
        positive = [("token", _and({"t": "phase"}, {"k": 0}))]
    return tuple(positive + negated)


def _requirements(compiled: list[CompiledRule], properties: Properties) -> list[tuple[frozenset, ...] | None]:
    """Per rule, per variant, the derived things (facts, conditions, red flags) its positive patterns test,
    those on settled things included (`_settled`: durable-rules is not given them, but the rule needs them
    all the same); None when some variant tests none (case facts alone may wake the rule)."""
    things = {name: thing for thing, name in properties.names.items() if thing[0] in ("fact", "condition", "red_flag")}
    out: list[tuple[frozenset, ...] | None] = []
    for item in compiled:
        needs = tuple(frozenset(things[name] for alias, pattern in patterns
                                if not alias.endswith("$not") and alias != "token"
                                and (name := thing_property(pattern["$and"])) in things)
                      for patterns in item.gated or item.variants)
        out.append(needs if needs and all(needs) else None)
    return out


def _partition(compiled: list[CompiledRule], plans, needs: list) -> tuple[Partition, ...]:
    """The rules packed into rulesets that keep every durable-rules limit under its budget (capacity.BUDGET),
    whatever their strata (the engine fires pending rules stratum by stratum): first the rules that case
    facts alone may wake, in rule-base order, then, in rulesets of their own, the rules that each need a
    derived thing, ordered by what they need (the thing the most rules test first: a pathway's gate), so
    that rules needing the same things share rulesets. A rule that alone exceeds a budget cannot be laid
    out: refuse it with its name rather than let durable-rules fail with an error code."""
    groups: list[tuple[list[int], capacity.Tally, bool]] = []
    tested: dict = {}
    for need in needs:
        for thing in set().union(*need) if need else ():
            tested[thing] = tested.get(thing, 0) + 1
    eager = [[index] for index, need in enumerate(needs) if need is None]
    # the lazy rules in clusters by the thing they need that the most rules test; a cluster that does not
    # fit where the last one ended starts a ruleset of its own
    order = {index: tuple(sorted(need[0], key=lambda thing: (-tested[thing], thing)))
             for index, need in enumerate(needs) if need is not None}
    lazy: list[list[int]] = []
    for index in sorted(order, key=lambda index: (order[index], index)):
        if lazy and order[lazy[-1][0]][0] == order[index][0]:
            lazy[-1].append(index)
        else:
            lazy.append([index])
    for clusters, is_lazy in ((eager, False), (lazy, True)):
        tally = capacity.Tally()
        current: list[int] = []
        for cluster in clusters:
            if current and len(cluster) > 1:
                # the whole cluster added to a copy of the counts: where it fits, those are the new counts
                # (tallying the ruleset afresh for every cluster was most of compiling the rule base)
                trial = tally.copy()
                for index in cluster:
                    trial.add(compiled[index])
                if trial.within_budget():
                    tally = trial
                    current.extend(cluster)
                    continue
                groups.append((sorted(current), tally, is_lazy))
                tally, current = capacity.Tally(), []
            for index in cluster:
                item = compiled[index]
                tally.add(item)
                if current and not tally.within_budget():
                    groups.append((sorted(current), _tally(compiled, current), is_lazy))
                    tally, current = capacity.Tally(), []
                    tally.add(item)
                if not tally.within_budget():
                    rule = item.rule
                    raise RuleFileError(rule.file, f"this rule alone exceeds a durable-rules limit ({tally.worst()})",
                                        rule_id=rule.id, line=rule.line)
                current.append(index)
        if current:
            groups.append((sorted(current), tally, is_lazy))
    partitions = []
    for number, (indexes, tally, is_lazy) in enumerate(groups, 1):
        rules = tuple(compiled[i] for i in indexes)
        keys = {key for i in indexes for key in plans[i][4]}
        first_tested: dict = {}
        for i in indexes:
            for ref in plans[i][2]:
                first_tested[ref] = min(first_tested.get(ref, compiled[i].stratum), compiled[i].stratum)
        pathways = list(dict.fromkeys(item.rule.pathway or "rules" for item in rules))
        name = f"p{number}." + (pathways[0] if len(pathways) == 1 else f"{pathways[0]}-{pathways[-1]}")
        partitions.append(Partition(
            name, tuple(sorted({item.stratum for item in rules})), rules,
            frozenset(k for k in keys if not k.startswith(TRIAL_KEY) and not k.endswith("[]")),
            frozenset(k.removesuffix("[]") for k in keys if k.endswith("[]")),
            frozenset(k.removeprefix(TRIAL_KEY) for k in keys if k.startswith(TRIAL_KEY)),
            any(item.tokened for item in rules), tally.usage(), is_lazy,
            tuple(dict.fromkeys(need for i in indexes for need in needs[i])) if is_lazy else (), first_tested))
    return tuple(partitions)


def _tally(compiled: list[CompiledRule], indexes: list[int]) -> capacity.Tally:
    tally = capacity.Tally()
    for index in indexes:
        tally.add(compiled[index])
    return tally


def variants_of(node: Node) -> list[list[Node]]:
    """The rule's top-level conjunction, with each top-level `any` expanded into its alternatives: every
    variant is a set of tests that must all hold for that alternative, so its patterns may wake the rule."""
    variants: list[list[Node]] = [[]]
    for test in top_level_tests(node):
        if isinstance(test, Any_) and len(variants) * len(test.items) <= MAX_VARIANTS:
            variants = [v + list(top_level_tests(alt)) for v in variants for alt in test.items]
        else:
            variants = [v + [test] for v in variants]
    return variants


def _one_pattern_per_fact(pushed: list) -> list:
    """durable-rules never lets one fact fill two patterns of the same rule, so two tests on one scalar
    field (age >= 8 and age <= 15) would never both match: merge them into one pattern. Of two tests on
    one derived thing (a fact, a condition, a red flag) or one treatment code, only the first is pushed;
    the others are left to the action's check (and so ordered after whatever asserts them)."""
    merged: dict[str, int] = {}
    out: list = []
    for test, pattern, ref, key in pushed:
        if NEGATED in pattern:
            out.append((test, pattern, ref, key))
            continue
        tests = pattern["$and"]
        listed = key is not None and key.endswith("[]")
        # list elements: each value is its own fact; anything else: one fact per thing, its property
        signature = _signature(tests) if listed else thing_property(tests)
        if signature not in merged:
            merged[signature] = len(out)
            out.append((test, pattern, ref, key))
        elif key is not None and not key.startswith(TRIAL_KEY) and not listed:
            index = merged[signature]
            first = out[index]
            out[index] = (first[0], {"$and": first[1]["$and"] + tests[1:]}, first[2], first[3])  # one group test
            out.append((test, None, ref, key))  # in the merged pattern: counts as pushed
    return out


def _stratify(kb: KnowledgeBase, plans, asserters) -> list[int]:
    """Longest-path layering: a strict (negated or nested) reference must come from a lower stratum, a pushed
    one from the same stratum or lower. A cycle through a strict reference cannot be ordered: refuse it."""
    stratum = [0] * len(plans)
    for _ in range(len(plans) + 1):
        changed = False
        for index, (rule, _, pushed_refs, strict_refs, *_) in enumerate(plans):
            need = 0
            for ref in strict_refs:
                for source in asserters.get(ref, ()):
                    need = max(need, stratum[source] + 1)
            for ref in pushed_refs:
                for source in asserters.get(ref, ()):
                    need = max(need, stratum[source])
            if need > stratum[index]:
                stratum[index] = need
                changed = True
        if not changed:
            return stratum
    worst = max(range(len(plans)), key=lambda i: stratum[i])
    rule = plans[worst][0]
    raise RuleFileError(rule.file, "rules test the absence of facts they (indirectly) assert themselves: "
                        "a cycle through not/any/count/score cannot be ordered", rule_id=rule.id, line=rule.line)
