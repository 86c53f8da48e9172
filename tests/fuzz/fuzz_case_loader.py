"""Coverage-guided fuzzing of the case loader (atheris). Run by .ci/fuzz.sh for a bounded time.

Any input must either load as a valid case (and then evaluate) or be refused with a CaseError: every
other exception is a crash, which atheris saves; keep it under tests/fuzz/regressions/ so that
tests/test_fuzz_regressions.py replays it for ever.
"""

import sys

import atheris

with atheris.instrument_imports():
    from cdss.io import cases
    from cdss import load_knowledge
    from cdss.engine import evaluate
    from cdss.errors import CaseError

KB = load_knowledge()


def test_one_input(data: bytes) -> None:
    try:
        case = cases.case_from_dict(cases.decode(data, "fuzz"), "fuzz")
    except CaseError:
        return
    evaluate(case, KB)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
