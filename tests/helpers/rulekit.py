"""Build small throwaway rule folders for engine and loader tests."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = {"name": "test rules", "version": "9.9.9", "urgency_order": ["emergency", "urgent", "soon", "routine"],
            "failed_trial": {"min_weeks": 4, "failing_responses": ["none", "partial"]},
            "never_used_up": {"all": ["exercise_therapy"]}, "condition_joints": {"knee_osteoarthritis": "knee"},
            "glucocorticoids": {"treatments": ["bridging_glucocorticoid"],
                                "do_nots": ["oral_corticosteroids", "long_term_glucocorticoids"]},
            "withholding": {"warning": "treatment_withheld", "message": {"en": "withheld", "nl": "achtergehouden"},
                            "sources": ["test"], "keep": {"emergency": [], "urgent": ["education_self_management"]}}}


def rule(rule_id: str, when: dict, then: list, **extra) -> dict:
    out = {"id": rule_id, "title": {"en": rule_id, "nl": rule_id}, "status": "stable",
           "sources": ["clinical consensus"], "when": when, "then": then,
           "rationale": {"en": "test rule", "nl": "testregel"}}
    out.update(extra)
    return out


def folder(tmp_path: Path, rules: list[dict], name: str = "test.yaml", text: str | None = None) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir(exist_ok=True)
    (directory / "knowledge_base.yaml").write_text(yaml.safe_dump(MANIFEST))
    body = text if text is not None else yaml.safe_dump({"pathway": "test", "title": {"en": "t", "nl": "t"},
                                                        "rules": rules}, sort_keys=False, allow_unicode=True)
    (directory / name).write_text(body)
    return directory
