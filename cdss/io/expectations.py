"""Compare a case's `expected` block with its result: the contract's test semantics.

Every listed item must be in the result (an object item pins status, urgency, ...); every code under
`warnings` must be among the result's warnings; each `urgency` pair must match that recommendation's
urgency; every code under `absent` must appear in none of the result's lists and none under
`do_not_absent` in its `do_not`; `rules_fired` / `rules_not_fired` pin the trace.
Expectations hold for one guideline profile, `expected.profile` (absent: `nice`, the default profile
every case was written for before profiles existed): a run of another profile does not compare them.
"""

from __future__ import annotations

LISTS = ("red_flags", "conditions", "recommendations", "do_not")


def profile_of(expected: dict) -> str:
    """The guideline profile a case's expectations hold for."""
    return expected.get("profile", "nice")


def applies(expected: dict, profile: str) -> bool:
    """Whether a run of this profile should compare the case's expectations."""
    return profile_of(expected) == profile


def differences(expected: dict, result: dict) -> list[str]:
    """Human-readable differences; empty when the result meets every expectation."""
    out = []
    for name in LISTS:
        present = {item["code"]: item for item in result.get(name, [])}
        for want in expected.get(name, []):
            want = {"code": want} if isinstance(want, str) else want
            got = present.get(want["code"])
            if got is None:
                out.append(f"{name}: expected {want['code']}, but it is not in the result")
                continue
            for key, value in want.items():
                if key == "code":
                    continue
                have = got.get(key)
                if key == "for":
                    if not set(value) <= set(have or []):
                        out.append(f"{name}: {want['code']} expected for {value}, got for {have}")
                elif have != value:
                    out.append(f"{name}: {want['code']} expected {key} {value}, got {have}")
    warned = {item["code"] for item in result.get("warnings", [])}
    for code in expected.get("warnings", []):
        if code not in warned:
            out.append(f"warnings: expected {code}, but it is not in the result")
    urgencies = {item["code"]: item.get("urgency") for item in result.get("recommendations", [])}
    for code, urgency in expected.get("urgency", {}).items():
        if code not in urgencies:
            out.append(f"urgency: expected {code} at {urgency}, but it is not recommended")
        elif urgencies[code] != urgency:
            out.append(f"urgency: {code} expected {urgency}, got {urgencies[code]}")
    for code in expected.get("do_not_absent", []):
        if any(item["code"] == code for item in result.get("do_not", [])):
            out.append(f"do_not_absent: {code} must not be advised against, but is in do_not")
    for code in expected.get("absent", []):
        for name in LISTS:
            if any(item["code"] == code for item in result.get(name, [])):
                out.append(f"absent: {code} must not appear, but is in {name}")
    fired = {entry["rule"] for entry in result.get("trace", [])}
    for rule in expected.get("rules_fired", []):
        if rule not in fired:
            out.append(f"rules_fired: {rule} did not fire")
    for rule in expected.get("rules_not_fired", []):
        if rule in fired:
            out.append(f"rules_not_fired: {rule} fired")
    return out
