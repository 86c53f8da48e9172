"""durable-rules' fixed limits, and how much of each one a ruleset uses.

durable-rules 2.0.28 refuses a ruleset, hangs building it, or fails a case at run time past fixed sizes of
its C core (shared/notes/durable-rules.md, "Capacity limits", each reproduced in tests/test_capacity.py).
The compiler packs rules into rulesets that keep every count below its budget, a fraction of the limit;
`cdss audit rules` reports each ruleset's usage and fails on a rule base that would not build.

The counts model the core's network conservatively: every pattern that ends on an alpha node counts as one
beta node linked to it (the core shares the beta node of identical first patterns, which only lowers the
real count), and every distinct alpha node on the chains of the patterns on one thing (cdss/engine/compiler.py
gives each thing a pattern tests a property of its own, and starts each pattern with the test of its group)
counts as one test a fact of that thing may match, every `$or` pattern as one of its own (the core shares
identical plain tests, but not `$or` tests). A red flag's fact has two things, its code and every red flag:
the core counts the tests of each apart (60 `$or` patterns on each do not fail; 70 on one do).
"""

from __future__ import annotations

from attrs import define, field, frozen


# The groups of things a pattern may start with (cdss/engine/compiler.py, Properties): a fact carries its
# thing's group, a property of its own, and every pattern starts with a test that it exists.
GROUPS = 16
GROUP_PROPERTIES = tuple(f"g{number}" for number in range(GROUPS))


def thing_property(tests) -> str:
    """The property of the thing a pattern's tests are on (after its group's test, if it starts with one)."""
    first = tests[0]
    if len(tests) > 1 and first.keys() == {"$ex"} and next(iter(first["$ex"])) in GROUP_PROPERTIES:
        first = tests[1]
    return property_of(first)


def property_of(test: dict) -> str:
    """The fact property an alpha test reads: {name: value}, {"$gte": {name: value}}, {"$ex": {name: 1}}, or
    an `$or` of tests on one property."""
    key, value = next(iter(test.items()))
    if key in ("$or", "$and"):
        return property_of(value[0])
    return next(iter(value)) if key.startswith("$") else key


@frozen
class Limit:
    key: str
    limit: int
    what: str  # what durable-rules does past the limit


LIMITS = (
    Limit("beta_per_alpha", 256, "error 108 when the ruleset is built: one alpha node links more than 256 beta nodes"),
    Limit("or_per_alpha", 128, "error 107 when the ruleset is built: one `$or` test is shared by more than 128 patterns"),
    Limit("rules", 4096, "the ruleset cannot hold more than 4,096 rules"),
    Limit("tests_per_fact", 64, "error 303 at run time: one fact matches more than 64 alpha tests"),
    Limit("siblings", 512, "register_rulesets hangs: more than 512 sibling tests under one alpha node"),
)
BY_KEY = {limit.key: limit for limit in LIMITS}
BUDGET = 0.8  # the compiler fills a ruleset to at most this fraction of each limit
SINK_RULES = GROUPS  # at most: the compiler's sink rules, one for each group the ruleset's patterns start with


@frozen
class Usage:
    """The largest count of each limit in one ruleset, with what it counts (for the audit's report)."""

    counts: tuple[tuple[str, int, str], ...]  # (limit key, count, where)

    def of(self, key: str) -> int:
        return next(count for k, count, _ in self.counts if k == key)

    def rows(self):
        """(limit, count, share of the limit, where) for each limit."""
        for key, count, where in self.counts:
            limit = BY_KEY[key]
            yield limit, count, count / limit.limit, where


@define
class Tally:
    """Running counts for rules added to one ruleset, with the largest of each kept as they grow. A
    pattern's alpha tests are counted as text, their repr (the compiler builds every test the same way, so
    equal tests print alike)."""

    beta: dict = field(factory=dict)  # alpha chain -> patterns ending on it
    ors: dict = field(factory=dict)  # alpha chain up to an `$or` -> patterns sharing it
    children: dict = field(factory=dict)  # alpha chain -> its distinct child tests
    under_property: dict = field(factory=dict)  # property -> distinct alpha chains that start on it
    or_patterns: int = 0  # `$or` patterns so far: durable-rules gives each its own alpha nodes
    peak: dict = field(factory=lambda: {limit.key: (0, "") for limit in LIMITS})

    def add(self, item) -> None:
        """Add one compiled rule (all its variants, each one durable-rules rule); the first rule brings the
        ruleset's sinks. A count only grows, so each new count is the peak."""
        rules = self.peak["rules"][0] + len(item.variants) + (SINK_RULES if self.peak["rules"][0] == 0 else 0)
        self.peak["rules"] = (rules, "rules in the ruleset, with its sinks")
        for patterns in item.variants:
            for _, pattern in patterns:
                self.add_pattern(pattern)

    def add_pattern(self, pattern: dict) -> None:
        """Count one pattern. Every cold start counts every pattern of the rule base (~1,250), so each peak
        is raised inline."""
        chain = tuple(map(repr, pattern["$and"] if "$and" in pattern else (pattern,)))
        peak, children, ors = self.peak, self.children, self.ors
        count = self.beta[chain] = self.beta.get(chain, 0) + 1
        if count > peak["beta_per_alpha"][0]:
            peak["beta_per_alpha"] = (count, " & ".join(chain))
        for depth, test in enumerate(chain):
            prefix = chain[:depth]
            siblings = children.get(prefix)
            if siblings is None:
                siblings = children[prefix] = set()
            siblings.add(test)
            if len(siblings) > peak["siblings"][0]:
                peak["siblings"] = (len(siblings), " & ".join(prefix or ("the root",)))
            if "'$or'" in test:
                prefix = chain[:depth + 1]
                count = ors[prefix] = ors.get(prefix, 0) + 1
                if count > peak["or_per_alpha"][0]:
                    peak["or_per_alpha"] = (count, " & ".join(prefix))
        name = thing_property(pattern["$and"] if "$and" in pattern else (pattern,))
        below = self.under_property.get(name)
        if below is None:
            below = self.under_property[name] = set()
        for depth in range(len(chain)):
            if "'$or'" in chain[depth]:
                # Identical `$or` tests are not shared: a fact that meets one meets every copy (error 303 with
                # 70 patterns of one `$or` on one condition code, reproduced in tests/test_capacity.py).
                self.or_patterns += 1
                below.add((chain[:depth + 1], self.or_patterns))
            else:
                below.add(chain[:depth + 1])
        # the group's test (which the group's sink shares), the tests on the property and those below them
        if len(below) > peak["tests_per_fact"][0]:
            peak["tests_per_fact"] = (len(below), name)

    def copy(self) -> "Tally":
        """The counts so far, to add to without changing these."""
        return Tally(dict(self.beta), dict(self.ors), {chain: set(tests) for chain, tests in self.children.items()},
                     {name: set(chains) for name, chains in self.under_property.items()}, self.or_patterns,
                     dict(self.peak))

    def within_budget(self) -> bool:
        return all(count <= BY_KEY[key].limit * BUDGET for key, (count, _) in self.peak.items())

    def worst(self) -> str:
        key, (count, where) = max(self.peak.items(), key=lambda kv: kv[1][0] / BY_KEY[kv[0]].limit)
        return f"{count} of {BY_KEY[key].limit} for {key}" + (f" at {where}" if where else "")

    def usage(self) -> Usage:
        return Usage(tuple((limit.key, *self.peak[limit.key]) for limit in LIMITS))
