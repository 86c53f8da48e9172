"""`cdss test --format junit`: JUnit XML, which CI systems (GitLab, Jenkins, GitHub test reporters) render.

One <testsuite> per folder of cases, one <testcase> per case (classname: the folder, name: the case id,
file: the case file), with <failure> (the differences), <error> (the case cannot be read) or <skipped>.
Coverage, when asked for with a threshold, is one more test case that fails below it. Text from the cases
is escaped by ElementTree, and characters XML 1.0 cannot hold (a hostile id's control bytes) are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from cdss.suite.run import ERROR, FAIL, SKIP, TestReport

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _suite_name(file: str) -> str:
    parent = Path(file).parent.as_posix()
    return parent if parent not in ("", ".") else "cases"


def to_junit(report: TestReport) -> str:
    root = ET.Element("testsuites", name="cdss test")
    suites: dict[str, ET.Element] = {}
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for outcome in report.outcomes:
        name = _suite_name(outcome.file)
        suite = suites.get(name)
        if suite is None:
            suite = suites[name] = ET.SubElement(root, "testsuite", name=_clean(name))
            suite.attrib.update(tests="0", failures="0", errors="0", skipped="0", time="0")
        case = ET.SubElement(suite, "testcase", classname=_clean(name.replace("/", ".")), name=_clean(outcome.case_id),
                             file=_clean(outcome.file), time=f"{outcome.seconds:.6f}")
        counter = None
        if outcome.status == FAIL:
            element = ET.SubElement(case, "failure", message=_clean(outcome.differences[0]), type="expectation")
            element.text = _clean("\n".join(outcome.differences))
            counter = "failures"
        elif outcome.status == ERROR:
            element = ET.SubElement(case, "error", message=_clean(outcome.message), type="invalid-case")
            element.text = _clean(f"{outcome.where}: {outcome.message}")
            counter = "errors"
        elif outcome.status == SKIP:
            ET.SubElement(case, "skipped", message=_clean(outcome.message))
            counter = "skipped"
        for key in ("tests", counter):
            if key is not None:
                suite.attrib[key] = str(int(suite.attrib[key]) + 1)
                totals[key] += 1
        suite.attrib["time"] = f"{float(suite.attrib['time']) + outcome.seconds:.6f}"
    coverage = report.coverage
    if coverage is not None and coverage.threshold is not None:
        suite = ET.SubElement(root, "testsuite", name="coverage", tests="1", failures="0" if coverage.ok else "1",
                              errors="0", skipped="0", time="0")
        case = ET.SubElement(suite, "testcase", classname="coverage", name="rules with a firing case and a near miss",
                             time="0")
        totals["tests"] += 1
        if not coverage.ok:
            totals["failures"] += 1
            element = ET.SubElement(case, "failure", type="coverage",
                                    message=f"{coverage.percent:.1f} % < {coverage.threshold:g} %")
            data = coverage.to_dict()
            element.text = ("no case fires: " + ", ".join(data["without_firing_case"]) + "\nno near miss: "
                            + ", ".join(data["without_near_miss"]))
    root.attrib.update({key: str(value) for key, value in totals.items()})
    root.attrib["time"] = f"{report.seconds:.3f}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
