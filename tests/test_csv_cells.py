"""Every CSV cdss writes: a cell that a spreadsheet would read as a formula is neutralised, and --resume
reads its own neutralised cells back."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from cdss.cli import main
from cdss.io import csvcells

HOSTILE_IDS = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
               "\t=1+1", "\r=1+1", "'=1+1", "'plain", "x\r=1+1", "y\n@SUM(1)"]


@pytest.mark.parametrize("value", HOSTILE_IDS + ["ok-id", "", "a=b", "1-2"])
def test_a_cell_round_trips_and_never_starts_a_formula(value):
    cell = csvcells.neutralise(value)
    assert not cell.startswith(csvcells.TRIGGERS)
    assert "\r" not in cell[1:] and "\n" not in cell  # one physical line per row
    assert csvcells.restore(cell) == value.replace("\r", " ").replace("\n", " ")
    if not value.startswith(csvcells.TRIGGERS + ("'",)) and "\r" not in value and "\n" not in value:
        assert cell == value  # ordinary cells are written as they are


def _cases(tmp_path):
    path = tmp_path / "hostile.jsonl"
    good = {"id": "good-1", "patient": {"age_years": 50}, "pain": {"knee": "left", "hip": "none"}}
    lines = [json.dumps(good)] + [json.dumps({"id": value, "patient": {"age_years": 40}}) for value in HOSTILE_IDS]
    lines.append(json.dumps({"id": "bad-field", "patient": {"age_years": 40}, "=cmd": 1}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_batch_csv_neutralises_hostile_case_ids_and_messages(tmp_path):
    out = tmp_path / "out.csv"
    done = CliRunner().invoke(main, ["batch", str(_cases(tmp_path)), "--format", "csv", "-o", str(out), "-q",
                                     "--jobs", "1"])
    assert done.exit_code == 1  # the hostile ids are invalid cases: error rows, the good case still runs
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))
    assert rows[0][0] == "case_id" and len(rows) == 1 + 1 + len(HOSTILE_IDS) + 1
    for row in rows:
        for cell in row:
            assert not cell.startswith(csvcells.TRIGGERS), row
    ids = [row[0] for row in rows[2:2 + len(HOSTILE_IDS)]]
    assert ids == [("'" if value.startswith(csvcells.TRIGGERS + ("'",)) else "") + value.replace("\r", " ").replace("\n", " ")
                   for value in HOSTILE_IDS]
    assert len(out.read_bytes().splitlines()) == len(rows)  # no line break inside a cell
    assert all(row[1] == "error" for row in rows[2:])
    assert any("=cmd" in cell for cell in rows[-1])  # the message names the field, defused


def test_resume_reads_neutralised_cells_back_byte_identical(tmp_path):
    """The same hostile id before and after the cut: the resumed run still sees the duplicate, because it
    reads the neutralised id back as the id it was."""
    source = _cases(tmp_path)
    with open(source, "a") as handle:
        handle.write(json.dumps({"id": HOSTILE_IDS[1], "patient": {"age_years": 40}}) + "\n")
    full = tmp_path / "full.csv"
    first = CliRunner().invoke(main, ["batch", str(source), "--format", "csv", "-o", str(full), "--jobs", "1"])
    assert first.output.count("warning: duplicate case id") == 1
    whole = full.read_bytes()
    lines = whole.splitlines(keepends=True)
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"".join(lines[:5]) + b"'=torn")
    done = CliRunner().invoke(main, ["batch", str(source), "--format", "csv", "-o", str(cut), "--resume", "--jobs", "1"])
    assert done.output.count("warning: duplicate case id") == 1
    assert cut.read_bytes() == whole
