"""A result as CDS Hooks 2.0 cards.

A red flag is a `critical` card, first, with its own actions as suggestions; each condition is a card with
its next steps (`warning` when any is soon or sooner, else `info`); next steps for no condition yet (an
X-ray before a diagnosis) one `info` card; each do-not a `warning` card; the result's warnings each a card.
When data the pathways need did not reach cdss, a card says which, points to the Questionnaire, and is a
`warning` when nothing else was found: an empty answer must never read as reassurance.

Every card and suggestion has a uuid that the same request always gets again (uuid5 of the hook instance
and what the card is about) and names the rules behind it, in `extension.cdss.rules` and in the feedback
store.

What a clinician reads (summary, detail, suggestion labels) is words in the language asked for, as in
`cdss evaluate`'s text (cases-and-results.md, "Labels, not codes"): labels from the result, the contract's
urgency and status words, never a code, field path or rule id. What an integrator needs beyond that (the
rule ids, the prefetch keys that were missing, why a record of the EHR was not used) goes in
`extension.cdss`.
"""

from __future__ import annotations

import uuid

from attrs import frozen

from cdss import resources
from cdss.fhir.mapping import Mapping
from cdss.fhir.texts import code_label

NAMESPACE = uuid.UUID("0b9e6c1e-5f4a-5d0e-8c52-7a0d3e9f2b61")

PRIORITY = {"emergency": "stat", "urgent": "asap", "soon": "urgent", "routine": "routine"}
WORDS = {
    "en": {"next": "Next steps", "sources": "Sources", "avoid": "Advise against",
           "for": "for", "steps_title": "Next steps before a diagnosis", "missing": "Not all data reached cdss",
           "missing_nothing": "cdss found nothing, but data were missing: this is not a reassurance",
           "questionnaire": "cdss questionnaire (exam findings and history)", "no_answers":
           "No answers to the cdss questionnaire: examination findings (Ober, FABER, straight-leg raise, saddle "
           "anaesthesia, trochanter tenderness...) are unknown to cdss.",
           "not_fetched": "Not provided and not fetched: {keys}.", "notes": "Not used",
           "unread": "cdss could not read {count} of the patient's records (no code cdss knows, no value or no "
                     "date): {refs}.",
           "kb": "cdss knowledge base", "topic": "hip and knee pain",
           "withheld": "Routine treatment is withheld while this stands.",
           "order_do_not": "This order is advised against", "order_done": "Already done",
           "order_done_detail": "{study} is already in the record; repeating it adds nothing unless the question changed.",
           "order_nsaid": "NSAIDs are ruled out for this patient",
           "order_nsaid_detail": "An oral NSAID is contraindicated here (kidney function, GI bleeding, "
                                 "anticoagulation or heart failure). Consider the alternatives cdss recommends."},
    "nl": {"next": "Volgende stappen", "sources": "Bronnen", "avoid": "Afraden",
           "for": "voor", "steps_title": "Volgende stappen vóór een diagnose", "missing": "Niet alle gegevens bereikten cdss",
           "missing_nothing": "cdss vond niets, maar er ontbraken gegevens: dit is geen geruststelling",
           "questionnaire": "cdss-vragenlijst (onderzoeksbevindingen en anamnese)", "no_answers":
           "Geen antwoorden op de cdss-vragenlijst: bevindingen bij lichamelijk onderzoek (Ober, FABER, proef van "
           "Lasègue, rijbroekanesthesie, drukpijn op de trochanter...) zijn voor cdss onbekend.",
           "not_fetched": "Niet meegestuurd en niet opgehaald: {keys}.", "notes": "Niet gebruikt",
           "unread": "cdss kon {count} gegeven(s) uit het dossier niet lezen (geen bekende code, geen waarde of "
                     "geen datum): {refs}.",
           "kb": "cdss-kennisbank", "topic": "heup- en knieklachten",
           "withheld": "Reguliere behandeling wordt uitgesteld zolang dit speelt.",
           "order_do_not": "Deze aanvraag wordt afgeraden", "order_done": "Al gedaan",
           "order_done_detail": "{study} staat al in het dossier; herhalen voegt niets toe, tenzij de vraag veranderde.",
           "order_nsaid": "NSAID's zijn voor deze patiënt gecontra-indiceerd",
           "order_nsaid_detail": "Een oraal NSAID is hier gecontra-indiceerd (nierfunctie, maag-darmbloeding, "
                                 "antistolling of hartfalen). Overweeg de alternatieven die cdss adviseert."},
}
# The prefetch keys (cdss.service.hooks.prefetch_templates) in words, with the FHIR resource type an
# integrator looks for.
DATA_WORDS = {
    "en": {"patient": "patient details (Patient)", "observations": "observations and lab results (Observation)",
           "conditions": "diagnoses and history (Condition)",
           "medicationStatements": "medication in use (MedicationStatement)",
           "medicationRequests": "prescriptions (MedicationRequest)", "procedures": "procedures (Procedure)",
           "diagnosticReports": "imaging reports (DiagnosticReport)",
           "questionnaireResponses": "answers to the cdss questionnaire (QuestionnaireResponse)"},
    "nl": {"patient": "patiëntgegevens (Patient)", "observations": "metingen en labuitslagen (Observation)",
           "conditions": "diagnoses en voorgeschiedenis (Condition)",
           "medicationStatements": "medicatiegebruik (MedicationStatement)",
           "medicationRequests": "voorschriften (MedicationRequest)", "procedures": "verrichtingen (Procedure)",
           "diagnosticReports": "verslagen van beeldvorming (DiagnosticReport)",
           "questionnaireResponses": "antwoorden op de cdss-vragenlijst (QuestionnaireResponse)"},
}
MAX_REFS = 10
OVERRIDE_REASONS = [
    ("already-done", "Already done or ordered", "Al gedaan of aangevraagd"),
    ("not-applicable", "Does not apply to this patient", "Niet van toepassing op deze patiënt"),
    ("data-wrong", "The data behind it are wrong or out of date", "De gegevens erachter kloppen niet of zijn verouderd"),
    ("patient-declined", "The patient declines", "De patiënt wil het niet"),
    ("clinical-judgement", "Clinical judgement differs", "Klinisch oordeel wijkt af"),
]
MAX_SUMMARY = 140


@frozen
class Card:
    """One card as sent, with what the feedback store keeps about it."""

    body: dict
    kind: str  # red_flag | condition | next_steps | do_not | warning | missing_data | order
    code: str
    rules: tuple[str, ...]


class CardMaker:
    def __init__(self, mapping: Mapping, service: str, hook_instance: str, lang: str, patient_id: str,
                 questionnaire_url: str):
        self.mapping = mapping
        self.service = service
        self.hook_instance = hook_instance
        self.lang = lang if lang in WORDS else "en"
        self.words = WORDS[self.lang]
        self.patient_id = patient_id
        self.questionnaire_url = questionnaire_url

    # -- pieces ----------------------------------------------------------------------------------
    def urgency(self, code: str) -> str:
        """The contract's words for an urgency ("Urgent: within 24–48 hours"), from the vocabulary."""
        entry = resources.vocabulary().get("urgencies", {})
        label = entry.get(code, {}).get("label", {}) if isinstance(entry, dict) else {}
        return label.get(self.lang) or label.get("en") or code

    def status(self, code: str) -> str:
        return resources.vocabulary().get("status_labels", {}).get(code, {}).get(self.lang, code)

    def uuid(self, *parts: str) -> str:
        return str(uuid.uuid5(NAMESPACE, "|".join((self.service, self.hook_instance) + parts)))

    def label(self, item: dict | str) -> str:
        if isinstance(item, dict):
            return item.get("label") or code_label(item["code"], self.lang)
        return code_label(item, self.lang)

    def reasons(self) -> list[dict]:
        system = f"{self.mapping.base}/CodeSystem/override-reason"
        index = 1 if self.lang == "en" else 2
        return [{"code": r[0], "system": system, "display": r[index]} for r in OVERRIDE_REASONS]

    def source(self, sources) -> dict:
        label = "; ".join(sources) if sources else self.words["kb"]
        return {"label": label[:200], "topic": {"system": f"{self.mapping.base}/CodeSystem/card-topic",
                                                "code": "hip-knee-pain", "display": self.words["topic"]}}

    def card(self, kind: str, code: str, indicator: str, summary: str, detail: str, rules, sources=(),
             suggestions=(), links=(), extension: dict | None = None) -> Card:
        card_id = self.uuid(kind, code)
        body: dict = {"uuid": card_id, "summary": _clip(summary), "indicator": indicator, "detail": detail,
                      "source": self.source(list(sources))}
        if suggestions:
            body["suggestions"] = [dict(s, uuid=self.uuid(kind, code, "suggestion", s["_key"])) for s in suggestions]
            for suggestion in body["suggestions"]:
                del suggestion["_key"]
            body["selectionBehavior"] = "any"
        if kind != "missing_data":
            body["overrideReasons"] = self.reasons()
        if links:
            body["links"] = list(links)
        body["extension"] = {"cdss": {"kind": kind, "code": code, "rules": list(rules), **(extension or {})}}
        return Card(body, kind, code, tuple(rules))

    def suggestion(self, rec: dict) -> dict:
        vocabulary_kind = rec.get("kind")
        pharmacological = rec.get("category") == "pharmacological"
        extra = [c.coding() for c in self.mapping.order_codes.get(rec["code"], ())]
        label = self.label(rec)
        if pharmacological:
            coding = self.mapping.cdss_code("cdss-treatment", rec["code"]).coding(label)
            resource = {"resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
                        "priority": PRIORITY[rec["urgency"]],
                        "medicationCodeableConcept": {"coding": [coding] + extra, "text": label},
                        "subject": {"reference": f"Patient/{self.patient_id}"}}
        else:
            coding = self.mapping.cdss_code("cdss-recommendation", rec["code"]).coding(label)
            resource = {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                        "priority": PRIORITY[rec["urgency"]], "code": {"coding": [coding] + extra, "text": label},
                        "subject": {"reference": f"Patient/{self.patient_id}"}}
            if vocabulary_kind:
                resource["category"] = [{"coding": [{"system": f"{self.mapping.base}/CodeSystem/recommendation-kind",
                                                     "code": vocabulary_kind}]}]
        return {"_key": rec["code"], "label": _clip(f"{label} ({self.urgency(rec['urgency']).split(':')[0]})", 80),
                "isRecommended": True,
                "actions": [{"type": "create", "description": label, "resource": resource}]}

    def steps(self, recs: list[dict]) -> str:
        lines = [f"**{self.words['next']}**", ""]
        for rec in recs:
            lines.append(f"- {_md(self.label(rec))} — {self.urgency(rec['urgency'])}")
        return "\n".join(lines)

    def footer(self, sources) -> str:
        """The guidelines behind a card; its rules' ids are for the knowledge author, in the extension."""
        return f"{self.words['sources']}: " + "; ".join(_md(s) for s in sources) if sources else ""

    # -- the result ------------------------------------------------------------------------------
    def from_result(self, body: dict, missing: list[str], answered: bool, notes: tuple[str, ...]) -> list[Card]:
        w = self.words
        recs = body["recommendations"]
        cards: list[Card] = []
        used: set[str] = set()
        for flag in body["red_flags"]:
            mine = [r for r in recs if flag["code"] in r["for"]]
            used.update(r["code"] for r in mine)
            rules = _rules(flag, mine)
            detail = "\n\n".join(p for p in (_md(flag["rationale"]), w["withheld"] if flag["urgency"] in ("emergency", "urgent") else "",
                                             self.steps(mine) if mine else "", self.footer(flag["sources"])) if p)
            cards.append(self.card("red_flag", flag["code"], "critical",
                                   f"{self.label(flag)} — {self.urgency(flag['urgency'])}", detail, rules,
                                   flag["sources"], [self.suggestion(r) for r in mine]))
        for condition in body["conditions"]:
            mine = [r for r in recs if condition["code"] in r["for"] and r["code"] not in used]
            rules = _rules(condition, mine)
            pressing = any(r["urgency"] != "routine" for r in mine)
            status = self.status(condition["status"])
            detail = "\n\n".join(p for p in (_md(condition["rationale"]), self.steps(mine) if mine else "",
                                             self.footer(condition["sources"])) if p)
            cards.append(self.card("condition", condition["code"], "warning" if pressing else "info",
                                   f"{self.label(condition)} ({status}, ICD-10 {condition['icd10']})", detail, rules,
                                   condition["sources"], [self.suggestion(r) for r in mine]))
        loose = [r for r in recs if not r["for"] and r["code"] not in used]
        if loose:
            rules = _rules({}, loose)
            sources = list(dict.fromkeys(s for r in loose for s in r["sources"]))
            detail = "\n\n".join(p for p in (self.steps(loose), self.footer(sources)) if p)
            cards.append(self.card("next_steps", "-", "info", w["steps_title"], detail, rules, sources,
                                   [self.suggestion(r) for r in loose]))
        for item in body["do_not"]:
            target = ", ".join(self.label(c) for c in item["for"])
            summary = f"{w['avoid']}: {self.label(item)}" + (f" ({w['for']} {target})" if target else "")
            detail = "\n\n".join(p for p in (_md(item["rationale"]), self.footer(item["sources"])) if p)
            cards.append(self.card("do_not", item["code"], "warning", summary, detail, item["rules"], item["sources"]))
        for warning in body["warnings"]:
            if warning["code"] in ("red_flag",):
                continue  # the critical card says it
            indicator = "info" if warning["code"] == "no_pathway_matched" else "warning"
            cards.append(self.card("warning", warning["code"], indicator, self.label(warning),
                                   _md(warning["message"]), _warning_rules(body, warning["code"])))
        if missing or not answered or notes:
            cards.append(self.missing_card(missing, answered, notes, found=bool(body["red_flags"] or body["conditions"])))
        order = {"critical": 0, "warning": 1, "info": 2}
        return sorted(cards, key=lambda c: order[c.body["indicator"]])

    def missing_card(self, missing: list[str], answered: bool, notes: tuple[str, ...], found: bool) -> Card:
        w = self.words
        lines = []
        if missing:
            said = [DATA_WORDS[self.lang].get(key, key) for key in missing]
            lines.append(w["not_fetched"].format(keys="; ".join(_md(s) for s in said)))
        if not answered:
            lines.append(w["no_answers"])
        if notes:  # which records, in words; why each one, for the integrator, in the extension
            refs = list(dict.fromkeys(note.split(": ", 1)[0] for note in notes))
            shown = ", ".join(_md(r) for r in refs[:MAX_REFS]) + (", …" if len(refs) > MAX_REFS else "")
            lines.append(f"**{w['notes']}**\n\n" + w["unread"].format(count=len(refs), refs=shown))
        summary = w["missing"] if found else w["missing_nothing"]
        link = {"label": w["questionnaire"], "url": self.questionnaire_url, "type": "absolute"}
        return self.card("missing_data", "-", "info" if found else "warning", summary, "\n\n".join(lines), (),
                         links=[link], extension={"missing": list(missing), "notes": list(notes)})

    # -- order-select ----------------------------------------------------------------------------
    def order_cards(self, body: dict, case: dict, drafts: list[dict]) -> list[Card]:
        """Warnings on draft orders: one of the case's do-nots, a study already done, an NSAID ruled out."""
        w = self.words
        do_nots = {d["code"]: d for d in body["do_not"]}
        nsaid_ruled_out = any(x["code"] == "nsaid_contraindicated" for x in body["warnings"]) or \
            case.get("systemic", {}).get("nsaid_contraindicated") is True
        done = set(case.get("imaging", {}))
        cards: list[Card] = []
        for draft in drafts:
            ref = f"{draft.get('resourceType')}/{draft.get('id')}"
            concept = draft.get("medicationCodeableConcept") if draft.get("resourceType") == "MedicationRequest" else draft.get("code")
            codes = _order_codes(self.mapping, concept)
            for code in codes["do_not"]:
                if code in do_nots:
                    item = do_nots[code]
                    detail = "\n\n".join(p for p in (_md(item["rationale"]), self.footer(item["sources"])) if p)
                    cards.append(self.card("order", f"{ref}:do_not:{code}", "warning",
                                           f"{w['order_do_not']}: {self.label(code)}", detail, item["rules"], item["sources"]))
            for study in codes["studies"]:
                if study in done:
                    label = self.label(study)
                    cards.append(self.card("order", f"{ref}:done:{study}", "warning", f"{w['order_done']}: {label}",
                                           w["order_done_detail"].format(study=_md(label)), ()))
                elif "routine_imaging" in do_nots:
                    item = do_nots["routine_imaging"]
                    cards.append(self.card("order", f"{ref}:do_not:routine_imaging", "warning",
                                           f"{w['order_do_not']}: {self.label('routine_imaging')}",
                                           _md(item["rationale"]), item["rules"], item["sources"]))
            if "oral" in codes["nsaids"] and nsaid_ruled_out:
                rules = _warning_rules(body, "nsaid_contraindicated")
                cards.append(self.card("order", f"{ref}:nsaid", "warning", w["order_nsaid"], w["order_nsaid_detail"], rules))
        return cards


def _order_codes(mapping: Mapping, concept) -> dict:
    from cdss.fhir.codes import codings
    out = {"do_not": list(mapping.do_not_orders.in_concept(concept)), "studies": [], "nsaids": mapping.nsaid_orders.in_concept(concept)}
    studies = set(mapping.study_codes)
    for coding in codings(concept):
        system, code = coding.get("system"), coding.get("code")
        if system == mapping.system("cdss-do-not") and code not in out["do_not"]:
            out["do_not"].append(code)
        if system in (mapping.system("cdss-study"), mapping.system("cdss-recommendation")) and code in studies:
            out["studies"].append(code)
        if system == mapping.system("cdss-treatment") and code == "oral_nsaid_with_ppi":
            out["nsaids"].append("oral")
    out["studies"] += [s for s in mapping.study_index.in_concept(concept) if s not in out["studies"]]
    return out


def _warning_rules(body: dict, code: str) -> list[str]:
    """The rules and policies that raised a warning: a result's warning names none, its trace does."""
    mark = f"warning:{code}"
    return [entry["rule"] for entry in body.get("trace", ()) if mark in entry["asserted"]]


def _rules(item: dict, recs: list[dict]) -> list[str]:
    return list(dict.fromkeys(list(item.get("rules", ())) + [r for rec in recs for r in rec["rules"]]))


def _clip(text: str, limit: int = MAX_SUMMARY) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md(text: str) -> str:
    """Text from the knowledge base or a user, safe inside Markdown: no links, images or HTML can be made."""
    out = []
    for ch in str(text):
        out.append("\\" + ch if ch in "\\`*_[]<>!#|" else ch)
    return "".join(out)
