"""Batch and audit coverage under hostile use and unlucky operation (issue 13): each reproduced defect,
repeated with real processes where it involved them. Nothing lost, nothing left behind, nothing hangs."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdss import load_knowledge
from cdss.batch import pool
from cdss.batch.worker import BatchWorker
from cdss.cli import main
from cdss.errors import RuleFileError
from tests.helpers.paths import CASES
from tests.helpers.procs import alive, cdss, children, kill_all, run, started_since, wait_for, without_file_permission_override
from tests.helpers.rulekit import folder, rule
from tests.test_batch import case, jsonl, lines


def batch(*args, input=None):
    return CliRunner().invoke(main, ["batch", *map(str, args)], input=input)


def cases_jsonl(path: Path, n: int, start: int = 0) -> Path:
    return jsonl(path, [case(i) for i in range(start, start + n)])


# -- 1, 2: the output is never an input, and nothing is truncated before the run can start -----------

def test_an_output_inside_an_input_folder_is_never_read_back(tmp_path):
    source = tmp_path / "sf"
    source.mkdir()
    cases_jsonl(source / "a.jsonl", 30)
    out = source / "z.jsonl"
    for _ in range(2):  # the second run finds the first run's output in the folder
        result = run("batch", source, "-o", out, "-q", "-j", "1", timeout=120)
        assert result.returncode == 0, result.stderr
        assert "inputs: 30, results: 30, errors: 0" in result.stderr
        assert len(lines(out)) == 30
    summary = source / "summary.json"
    result = run("batch", source, "-o", out, "--summary", summary, "-q", "-j", "1")
    assert summary.exists() and "inputs: 30," in result.stderr
    assert "inputs: 30," in run("batch", source, "-o", out, "--summary", summary, "-q", "-j", "1").stderr


def test_an_output_that_is_an_input_is_refused_and_left_intact(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 5)
    before = source.read_bytes()
    for extra in ((), ("--resume",)):
        result = batch(source, "-o", source, *extra)
        assert result.exit_code == 1
        assert f"cdss: error: {source}: is also this run's output" in result.output
        assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_case_file_of_an_input_folder_named_as_the_output_is_refused_and_left_intact(tmp_path):
    source = tmp_path / "sf"
    source.mkdir()
    cases = cases_jsonl(source / "a.jsonl", 5)
    cases_jsonl(source / "b.jsonl", 5, start=5)
    before = cases.read_bytes()
    for option in ("-o", "--summary"):
        args = [option, cases] if option == "-o" else ["-o", tmp_path / "out.jsonl", option, cases]
        for extra in ((), ("--resume",)) if option == "-o" else ((),):
            result = run("batch", source, *args, *extra, "-j", "1")
            assert result.returncode == 1, result.stderr
            what = "output" if option == "-o" else "summary"
            assert result.stderr == (f"cdss: error: {cases}: is a file of the input folder {source} (not results of "
                                     f"cdss batch) and would be this run's {what}; name another file for the "
                                     f"{what}\n")
            assert cases.read_bytes() == before
    assert sorted(p.name for p in source.iterdir()) == ["a.jsonl", "b.jsonl"]
    assert not (tmp_path / "out.jsonl").exists()


def test_a_summary_into_the_output_file_is_refused(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.json"
    (tmp_path / "link.json").symlink_to(out)
    for summary in (out, tmp_path / "link.json"):
        result = run("batch", source, "-o", out, "--summary", summary)
        assert result.returncode == 2, result.stderr
        assert f"-o and --summary name the same file ({summary}): the summary would replace the results" \
               in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_an_output_whose_folder_is_a_file_is_one_clear_line(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 2)
    result = run("batch", source, "-o", source / "out.jsonl")
    assert result.returncode == 1
    assert result.stderr == f"cdss: error: {source / 'out.jsonl'}: {source} is not a folder\n"
    missing = run("batch", source, "-o", tmp_path / "out.jsonl", "--summary", tmp_path / "nowhere" / "s.json")
    assert missing.returncode == 1
    assert missing.stderr == (f"cdss: error: {tmp_path / 'nowhere' / 's.json'}: the folder {tmp_path / 'nowhere'} "
                              "does not exist (nothing was run)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def _read_fifo(fifo: Path) -> tuple[threading.Thread, list]:
    """A reader of a fifo in a thread (a fifo's writer blocks until one opens it), and what it read."""
    got: list = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    return reader, got


def _finish_fifo(fifo: Path, reader: threading.Thread) -> None:
    """Wait for the reader; when nothing ever wrote to the fifo, end its wait with an empty write side."""
    reader.join(timeout=60)
    if reader.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)


def test_a_fifo_or_a_device_named_for_results_is_written_to_never_replaced(tmp_path):
    """Renaming a finished file over /dev/null (as root) or /dev/stdout would replace the device itself."""
    source = cases_jsonl(tmp_path / "in.jsonl", 3)
    expected = run("batch", source, "-q").stdout
    piped = run("batch", source, "-q", "-o", "/dev/stdout")  # standard output is a pipe here
    assert piped.returncode == 0 and piped.stdout == expected, piped.stderr
    fifo = tmp_path / "summary.fifo"
    os.mkfifo(fifo)
    reader, got = _read_fifo(fifo)
    result = run("batch", source, "-q", "-o", tmp_path / "out.jsonl", "--summary", fifo)
    _finish_fifo(fifo, reader)
    assert result.returncode == 0, result.stderr
    assert got and json.loads(got[0])["cases"] == 3
    assert fifo.is_fifo() and not (tmp_path / "summary.fifo.partial").exists()
    target = tmp_path / "summary.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert run("batch", source, "-q", "-o", tmp_path / "out.jsonl", "--summary", link).returncode == 0
    assert link.is_symlink() and json.loads(target.read_text())["cases"] == 3


def negation_cycle(tmp_path: Path) -> Path:
    return folder(tmp_path, [rule("t.a", {"not": {"fact": "t.b"}}, [{"assert": "t.a"}]),
                             rule("t.b", {"not": {"fact": "t.a"}}, [{"assert": "t.b"}])])


def test_rules_that_do_not_compile_leave_the_previous_results_untouched(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 5)
    out = tmp_path / "results.jsonl"
    out.write_bytes(b"previous results\n")
    rules = negation_cycle(tmp_path)
    for extra in (("-j", "2"), ("--executor", "inline")):
        result = run("batch", source, "-o", out, "--rules", rules, *extra)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr  # issue 13, item 14: it printed two
        assert result.stderr.count("\n") == 1 and "a cycle through not/any/count/score" in result.stderr
        assert out.read_bytes() == b"previous results\n"
        assert not (tmp_path / "results.jsonl.partial").exists()


@pytest.mark.slow
def test_an_unreachable_dask_scheduler_leaves_the_previous_results_untouched(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "results.jsonl"
    out.write_bytes(b"previous results\n")
    result = run("batch", cases_jsonl(tmp_path / "in.jsonl", 3), "-o", out, "--executor", "dask",
                 "--scheduler", "tcp://127.0.0.1:9")
    assert result.returncode == 1 and "cannot reach the dask scheduler" in result.stderr
    assert "Traceback" not in result.stderr
    assert out.read_bytes() == b"previous results\n" and not (tmp_path / "results.jsonl.partial").exists()


# -- 3: non-finite numbers -----------------------------------------------------------------------

@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_number_too_large_for_a_float_is_invalid_input(tmp_path, executor):
    """`1e400` parsed as infinity passed `minimum: 0` and crashed durable-rules' C core."""
    huge = [case(0, labs={"esr_mm_h": "HUGE"}), case(1), case(2, labs={"crp_mg_l": "HUGE"})]
    huge[1]["pain"]["duration_weeks"] = "HUGE"
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(b).replace('"HUGE"', "1e400") + "\n" for b in huge))
    out = tmp_path / "out.jsonl"
    result = batch(source, "-o", out, "--executor", executor, "-j", "2")
    records = lines(out)
    assert [r["status"] for r in records] == ["error"] * 3
    assert [r["error"]["pointer"] for r in records] == ["/labs/esr_mm_h", "/pain/duration_weeks", "/labs/crp_mg_l"]
    assert records[0]["error"]["message"] == "expected a finite number; 1e400 is too large for one"
    assert "inputs: 3, results: 0, errors: 3" in result.output


# -- 4, 20: workers die with their parent; SIGTERM and Ctrl-C stop a run cleanly ---------------------

def _started(command, **kwargs) -> subprocess.Popen:
    """cdss as a terminal starts it: with Ctrl-C at its default. A test run started in the background by a
    script inherits SIGINT ignored (POSIX, for asynchronous commands), and cdss rightly keeps it ignored."""
    return subprocess.Popen(command, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


def _workers_of(proc: subprocess.Popen, count: int) -> set[int]:
    assert wait_for(lambda: len(children(proc.pid)) >= count, timeout=120), "the workers never started"
    return children(proc.pid)


def test_workers_die_with_their_parent_after_kill_9(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 3000)
    reader = tmp_path / "read.txt"
    with open(reader, "wb") as sink:
        proc = _started(cdss("batch", source, "-j", "2", "-q"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        counter = subprocess.Popen(["wc", "-c"], stdin=proc.stdout, stdout=sink)  # `cdss batch ... | wc -c`
        proc.stdout.close()
        workers = _workers_of(proc, 2)
        try:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10), "orphaned workers"
            counter.wait(timeout=10)  # the pipe closes: no worker holds its write end
        finally:
            kill_all(workers | {counter.pid})


def test_sigterm_stops_a_run_as_cleanly_as_ctrl_c_and_resume_finishes_it(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 1500)
    full = tmp_path / "full.jsonl"
    assert batch(source, "-o", full, "-q", "-j", "2").exit_code == 0
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    for sent, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        before = partial.stat().st_size if partial.exists() else 0
        proc = _started(cdss("batch", source, "-o", out, "-j", "2", "-q", *(["--resume"] if before else [])),
                        stderr=subprocess.PIPE, text=True)
        workers = _workers_of(proc, 2)
        try:
            assert wait_for(lambda: partial.exists() and partial.stat().st_size > before, timeout=120)
            os.kill(proc.pid, sent)
            _, stderr = proc.communicate(timeout=60)
            assert proc.returncode == code, stderr
            assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
            assert f"what was written is kept in {partial}: rerun with --resume to continue" in stderr
            assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10)
        finally:
            kill_all(workers | {proc.pid})
    result = run("batch", source, "-o", out, "-j", "2", "-q", "--resume")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == full.read_bytes() and not partial.exists()


def test_ctrl_c_in_the_first_half_second_is_one_line_and_exit_130(tmp_path):
    """Interrupted while it starts (loading the rules, starting workers): one line and exit 130, never a
    traceback; interrupted once results are written (a fast start reaches that within a second): the line
    that says where they are kept, too."""
    source = cases_jsonl(tmp_path / "in.jsonl", 200)
    for delay in (0.3, 0.6, 1.0):
        out = tmp_path / f"out-{delay}.jsonl"
        proc = _started(cdss("batch", source, "-o", out, "-j", "2"), stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        if proc.returncode == 0:  # it finished first: nothing to see
            continue
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr and "Exception in initializer" not in stderr, stderr
        partial = Path(f"{out}.partial")
        kept = f"cdss: stopped; what was written is kept in {partial}: rerun with --resume to continue\n"
        assert stderr in ("", "cdss: interrupted\n") or (stderr == kept + "cdss: interrupted\n"
                                                         and partial.exists()), stderr


def test_audit_coverage_workers_die_with_their_parent(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 2000)
    proc = _started(cdss("audit", "coverage", source, "-j", "2"), stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
    workers = _workers_of(proc, 2)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10), "orphaned workers"
    finally:
        kill_all(workers)


# -- 5: one writer at a time ----------------------------------------------------------------------

def test_a_second_writer_into_the_same_file_is_refused(tmp_path):
    fifo = tmp_path / "slow.jsonl"
    os.mkfifo(fifo)
    out = tmp_path / "out.jsonl"
    first = _started(cdss("batch", fifo, "-o", out, "-j", "1", "-q"), stderr=subprocess.PIPE, text=True)
    try:
        with open(fifo, "w") as writer:  # the first run holds the output while it waits for its input
            writer.write(json.dumps(case(1)) + "\n")
            writer.flush()
            assert wait_for(lambda: (tmp_path / "out.jsonl.partial").exists(), timeout=120)
            for extra in ((), ("--resume",)):
                second = run("batch", cases_jsonl(tmp_path / "other.jsonl", 3), "-o", out, "-j", "1", *extra)
                assert second.returncode == 1
                assert f"cdss: error: {out}: another cdss run is writing this file" in second.stderr
            writer.write(json.dumps(case(2)) + "\n")
        _, stderr = first.communicate(timeout=120)
        assert first.returncode == 0, stderr
    finally:
        kill_all({first.pid} | children(first.pid))
    assert [r["case_id"] for r in lines(out)] == ["b0001", "b0002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.jsonl", "out.jsonl", "slow.jsonl"]


# -- 6: a resume must be of the same run ------------------------------------------------------------

@pytest.mark.parametrize("change", ["another input", "a case prepended", "--lang nl", "--rules", "--format csv",
                                    "--profile nhg"])
def test_a_resume_into_another_runs_output_is_refused(tmp_path, change):
    source = cases_jsonl(tmp_path / "in.jsonl", 40)
    out = tmp_path / "out.jsonl"
    assert batch(source, "-o", out, "-q", "-j", "1").exit_code == 0
    out.write_bytes(b"".join(out.read_bytes().splitlines(keepends=True)[:25]))  # an interrupted run
    written = out.read_bytes()
    args = [source, "-o", out, "--resume", "-q", "-j", "1"]
    if change == "another input":
        args[0] = cases_jsonl(tmp_path / "other.jsonl", 40, start=100)
    elif change == "a case prepended":
        source.write_text(json.dumps(case(999)) + "\n" + source.read_text())
    elif change == "--rules":
        rules = tmp_path / "rules"
        rules.mkdir()
        for path in (CASES.parent / "rules").iterdir():
            (rules / path.name).write_bytes(path.read_bytes())
        manifest = rules / "knowledge_base.yaml"
        manifest.write_text(manifest.read_text().replace("version: ", "version: 9", 1))
        args += ["--rules", rules]
    else:
        args += change.split()
    result = batch(*args)
    assert result.exit_code == 1, result.output
    assert "--resume to start over" in result.output or "run without --resume" in result.output
    assert f"cdss: error: {out}:" in result.output
    assert out.read_bytes() == written
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_a_resume_of_the_same_run_is_accepted_after_it_completed(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    assert batch(source, "-o", out, "-q", "-j", "1").exit_code == 0
    whole = out.read_bytes()
    result = batch(source, "-o", out, "-q", "-j", "1", "--resume")
    assert result.exit_code == 0 and "(resumed after 10)" in result.output
    assert out.read_bytes() == whole and not (tmp_path / "out.jsonl.partial").exists()


# -- 7: CSV rows over several lines; ids end where they end -----------------------------------------

def test_csv_resume_with_hostile_raw_ids_is_byte_identical_after_a_kill_at_any_byte(tmp_path):
    """An error record's raw id `"a\nb"` once made a CSV row of two lines, and `--resume` failed on it
    (IndexError). Cells now hold no line break (cdss.io.csvcells), and resume finds records by their
    quotes, so a kill after any byte resumes to the same bytes."""
    bodies = [case(0), case(1, id="a\nb"), case(2), case(3, id="=c\r\n\"d\","), case(4)]
    source = jsonl(tmp_path / "in.jsonl", bodies)
    full = tmp_path / "full.csv"
    assert batch(source, "--format", "csv", "-o", full, "-q", "-j", "1").exit_code == 1  # two error records
    whole = full.read_bytes()
    assert whole.count(b"\n") == 6 and b"\na b," in whole and b'"\'=c ""d"","' in whole
    cut = tmp_path / "cut.csv"
    ends = [i + 1 for i, byte in enumerate(whole) if byte == ord("\n")]
    starts = [0] + ends
    cuts = sorted({0, len(whole)} | {e + d for e in ends for d in (-1, 0, 1) if 0 <= e + d <= len(whole)}
                  | {(a + b) // 2 for a, b in zip(starts, ends)} | {whole.index(b'"\'=c') + 3})
    for end in cuts:  # killed after that byte (inside a quoted cell too)
        cut.write_bytes(whole[:end])
        result = batch(source, "--format", "csv", "-o", cut, "--resume", "-q", "--executor", "inline")
        assert result.exit_code == 1, result.output
        assert "inputs: 5, results: 3, errors: 2" in result.output
        assert cut.read_bytes() == whole, end


def test_a_case_id_with_a_trailing_newline_is_invalid(tmp_path):
    source = jsonl(tmp_path / "in.jsonl", [case(0, id="nl-id\n")])
    out = tmp_path / "out.jsonl"
    batch(source, "-o", out, "-j", "1")
    record = lines(out)[0]
    assert record["status"] == "error" and record["error"]["pointer"] == "/id"
    assert "does not match the pattern" in record["error"]["message"]


def test_a_rule_threshold_without_a_finite_value_does_not_load(tmp_path):
    for value in (".inf", "-.Inf", ".nan", "1.0e+400"):
        rules = folder(tmp_path, [], text=(
            "pathway: test\ntitle: {en: t, nl: t}\nrules:\n- id: t.x\n  title: {en: x, nl: x}\n  status: stable\n"
            "  sources: [clinical consensus]\n  when: {field: labs.crp_mg_l, gte: %s}\n  then: [{assert: t.y}]\n"
            "  rationale: {en: x, nl: x}\n" % value))
        with pytest.raises(RuleFileError, match=f"test.yaml:8: expected a finite number, got {re.escape(value)}"):
            load_knowledge(rules)


def test_a_rule_id_with_a_trailing_newline_does_not_load(tmp_path):
    with pytest.raises(RuleFileError, match="does not match"):
        load_knowledge(folder(tmp_path, [rule("t.x\n", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.y"}])]))
    result = run("batch", cases_jsonl(tmp_path / "in.jsonl", 1), "--rules", tmp_path / "rules")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr  # one line
    assert "rule 't.x\\n':" in result.stderr


# -- 10: audit coverage streams its input ------------------------------------------------------------

def test_audit_coverage_reads_a_device_as_a_bounded_stream(tmp_path):
    """A JSONL name that is /dev/zero was read whole (without bound); now it is read as batch reads it."""
    zero = tmp_path / "zero.jsonl"
    zero.symlink_to("/dev/zero")
    result = run("audit", "coverage", zero, "-j", "1", "--format", "json", "--cases", tmp_path, timeout=120)
    assert result.returncode == 1, result.stderr
    errors = json.loads(result.stdout)["coverage"]["case_errors"]
    assert len(errors) == 1 and "no line end within" in errors[0]["message"]


@pytest.mark.slow
def test_audit_coverage_of_many_bad_lines_is_linear(tmp_path):
    """100,000 `{}` lines took over 300 s: the text report compared findings pairwise. 50,000 now take about
    a minute on a busy 2-core machine; compared pairwise, they took half an hour."""
    source = tmp_path / "empty.jsonl"
    source.write_text("{}\n" * 50_000)
    result = run("audit", "coverage", source, "-j", "2", "--cases", tmp_path, timeout=600)
    assert result.returncode == 1
    assert "Cases that could not be evaluated: 50000" in result.stdout


# -- 11, 17, 18: the rule loader ---------------------------------------------------------------------

def test_a_huge_rule_file_is_refused_from_its_size_without_reading_it(tmp_path):
    rules = folder(tmp_path, [rule("t.x", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.y"}])])
    with open(rules / "huge.yaml", "wb") as handle:
        handle.truncate(3 * 1024 ** 3)  # sparse: 3 GB that cost nothing unless read
    # VmHWM: this program's peak resident memory (ru_maxrss would include the forking test process's)
    probe = ("import sys; from cdss import load_knowledge\n"
             "try:\n    load_knowledge(sys.argv[1])\nexcept Exception as error:\n    print(error)\n"
             "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))")
    result = subprocess.run([os.sys.executable, "-c", probe, str(rules)], capture_output=True, text=True, timeout=120)
    message, peak_kib = result.stdout.splitlines()
    assert "huge.yaml: file is 3221225472 bytes; a rule file may hold at most 4194304" in message
    assert int(peak_kib) < 400 * 1024  # it once took 6.3 GB


def test_a_symlink_out_of_the_rules_folder_is_refused_unread(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password: hunter2\n")
    rules = folder(tmp_path, [rule("t.x", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.y"}])])
    (rules / "leak.yaml").symlink_to(secret)
    with pytest.raises(RuleFileError, match="leak.yaml: a symlink to a file outside the rule folder") as raised:
        load_knowledge(rules)
    assert "hunter2" not in str(raised.value)
    (rules / "leak.yaml").unlink()
    (rules / "again.yaml").symlink_to(rules / "test.yaml")  # inside the folder: allowed (and a duplicate here)
    with pytest.raises(RuleFileError, match="duplicate rule id"):
        load_knowledge(rules)


def test_tests_cache_validated_rules_in_their_own_temporary_folder():
    """The loader's validated-marker cache lives in ~/.cache by default; the tests keep theirs elsewhere."""
    cache = Path(os.environ["CDSS_CACHE"])
    assert not str(cache).startswith(str(Path.home() / ".cache"))
    load_knowledge(None)
    assert list(cache.iterdir())


# -- 12: a cap on --jobs ---------------------------------------------------------------------------

def test_jobs_are_capped_at_twice_the_cores_and_say_so(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 100)
    proc = _started(cdss("batch", source, "-o", tmp_path / "out.jsonl", "-j", "1000"), stderr=subprocess.PIPE,
                    text=True)
    most = 0
    try:
        while proc.poll() is None:
            most = max(most, len(children(proc.pid)))
            time.sleep(0.05)
    finally:
        kill_all(children(proc.pid) | {proc.pid})
    _, stderr = proc.communicate()
    cores = os.cpu_count()
    assert proc.returncode == 0, stderr
    assert f"note: --jobs 1000 is capped at {2 * cores} (twice the {cores} cores)" in stderr
    assert most <= 2 * cores
    assert pool.capped_jobs(2, 1) == (1, "--jobs 2: 1 worker(s) are enough for this input")
    assert pool.capped_jobs(1, None) == (1, None)


# -- 13: fifos --------------------------------------------------------------------------------------

def test_a_fifo_named_on_the_command_line_is_read_once(tmp_path):
    fifo = tmp_path / "cases.jsonl"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "w") as writer:
            for i in range(20):
                writer.write(json.dumps(case(i)) + "\n")

    writer = threading.Thread(target=feed)
    writer.start()
    result = run("batch", fifo, "-o", tmp_path / "out.jsonl", "-j", "2", "-q", timeout=120)
    writer.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert [r["case_id"] for r in lines(tmp_path / "out.jsonl")] == [f"b{i:04d}" for i in range(20)]


def test_a_fifo_found_in_a_folder_is_an_error_record_not_a_hang(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    cases_jsonl(source / "a.jsonl", 2)
    os.mkfifo(source / "b.jsonl")
    result = run("batch", source, "-o", tmp_path / "out.jsonl", "-j", "1", timeout=120)
    assert result.returncode == 1
    records = lines(tmp_path / "out.jsonl")
    assert [r["status"] for r in records] == ["ok", "ok", "error"]
    assert "not a regular file (a fifo or a device)" in records[2]["error"]["message"]


# -- 15: an unreadable subfolder -------------------------------------------------------------------

def test_an_unreadable_subfolder_is_an_error_record(tmp_path):
    source = tmp_path / "in"
    (source / "locked").mkdir(parents=True)
    cases_jsonl(source / "a.jsonl", 2)
    cases_jsonl(source / "locked" / "b.jsonl", 2, start=2)
    (source / "locked").chmod(0)
    try:
        result = run("batch", source, "-o", tmp_path / "out.jsonl", "-j", "1",
                     preexec_fn=without_file_permission_override())
    finally:
        (source / "locked").chmod(0o755)
    assert result.returncode == 1, result.stderr
    records = lines(tmp_path / "out.jsonl")
    assert [r["status"] for r in records] == ["ok", "ok", "error"]
    assert records[2]["error"]["file"] == str(source / "locked")
    assert records[2]["error"]["message"] == "cannot read the folder: Permission denied"
    assert "inputs: 3, results: 2, errors: 1" in result.stderr


# -- 16: each output problem is one clear line with the right exit code --------------------------------

def test_an_output_folder_that_is_read_only_or_missing_is_one_clear_line(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 2)
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run("batch", source, "-o", locked / "out.jsonl", preexec_fn=without_file_permission_override())
    finally:
        locked.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr == f"cdss: error: {locked / 'out.jsonl'}: cannot write {locked / 'out.jsonl.partial'}: " \
                            "Permission denied\n"
    missing = run("batch", source, "-o", tmp_path / "nowhere" / "out.jsonl")
    assert missing.returncode == 1
    assert missing.stderr == f"cdss: error: {tmp_path / 'nowhere' / 'out.jsonl'}: the folder " \
                             f"{tmp_path / 'nowhere'} does not exist\n"


def test_a_summary_that_cannot_be_written_is_one_clear_line(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 3)
    summary = tmp_path / "summary.json"

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    result = run("batch", source, "-o", os.devnull, "--summary", summary, "-j", "1", preexec_fn=small_disk)
    assert result.returncode == 1
    assert f"cdss: error: {summary}: cannot write the summary: File too large (the results are complete)" \
           in result.stderr
    assert "Traceback" not in result.stderr and not summary.exists()
    assert not (tmp_path / "summary.json.partial").exists()


@pytest.mark.slow
def test_an_audit_page_that_cannot_be_written_is_one_clear_line(tmp_path):
    page = tmp_path / "audit.html"

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    rules = folder(tmp_path, [rule("t.x", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.y"}])])
    result = run("audit", "rules", "--rules", rules, "--html", page, preexec_fn=small_disk)
    assert result.returncode == 1
    assert result.stderr.strip() == f"cdss: error: {page}: cannot write the report: File too large"
    assert not page.exists() and not (tmp_path / "audit.html.partial").exists()


@pytest.mark.slow
def test_an_audit_page_to_a_fifo_is_written_through_it(tmp_path):
    fifo = tmp_path / "page.fifo"
    os.mkfifo(fifo)
    reader, got = _read_fifo(fifo)
    result = run("audit", "coverage", cases_jsonl(tmp_path / "in.jsonl", 3), "-j", "1", "--profile", "nice",
                 "--html", fifo)
    _finish_fifo(fifo, reader)
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    assert got and got[0].startswith(b"<!DOCTYPE html>") and fifo.is_fifo()
    assert not (tmp_path / "page.fifo.partial").exists()


def test_closed_standard_streams_and_closed_pipes(tmp_path):
    source = cases_jsonl(tmp_path / "in.jsonl", 300)
    closed_in = run("batch", "-", "-o", tmp_path / "out.jsonl", preexec_fn=lambda: os.close(0))
    assert closed_in.returncode == 1 and "<stdin>: /: cannot read: standard input is closed" in closed_in.stderr
    assert "Traceback" not in closed_in.stderr
    one = CASES / "derived" / next(p.name for p in (CASES / "derived").iterdir())
    for args in (("batch", source), ("evaluate", one)):
        closed_out = subprocess.run(cdss(*args), preexec_fn=lambda: os.close(1), stderr=subprocess.PIPE, text=True,
                                    timeout=300)
        assert closed_out.returncode == 1, args
        assert "standard output is closed" in closed_out.stderr and "Traceback" not in closed_out.stderr
    for args in (("rules", "list"), ("batch", source, "-j", "1"), ("evaluate", one)):
        reader, writer = os.pipe()
        os.close(reader)  # the reader went away before the first write: every write meets a closed pipe
        try:
            gone = subprocess.run(cdss(*args), stdout=writer, stderr=subprocess.PIPE, text=True, timeout=300)
        finally:
            os.close(writer)
        assert gone.returncode == 141, (args, gone.stderr)  # as a Unix tool killed by SIGPIPE, quietly
        assert "Error" not in gone.stderr and "--resume" not in gone.stderr and "Traceback" not in gone.stderr
    for args in (("synth", "--n", "2000"), ("audit", "coverage", source, "-j", "1")):
        reader, writer = os.pipe()
        os.close(reader)
        try:
            gone = subprocess.run(cdss(*args), stdout=writer, stderr=subprocess.PIPE, text=True, timeout=300)
        finally:
            os.close(writer)
        assert gone.returncode == 141 and gone.stderr == "", (args, gone.stderr)
    # `| head -1` on an output far larger than the pipe's buffer: the writer meets the closed pipe for real
    piped = subprocess.run(f"{' '.join(map(str, cdss('batch', source, '-j', '1')))} | head -1; "
                           "echo \"${PIPESTATUS[0]}\" >&2",
                           shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=300)
    assert piped.stdout.count("\n") == 1
    assert piped.stderr.splitlines()[-1] == "141", piped.stderr
    assert "Error" not in piped.stderr and "--resume" not in piped.stderr


# -- 19: a per-case time bound ----------------------------------------------------------------------

def test_a_stuck_case_becomes_an_error_record_and_its_worker_is_replaced(tmp_path, monkeypatch):
    real = BatchWorker.__call__

    def stuck(self, item):
        if item.raw and b'"b0003"' in item.raw:
            time.sleep(3600)  # as a hang in durable-rules' C core would
        return real(self, item)

    monkeypatch.setattr(BatchWorker, "__call__", stuck)  # inherited by the forked workers
    before = children(os.getpid())
    source = cases_jsonl(tmp_path / "in.jsonl", 8)
    out = tmp_path / "out.jsonl"
    result = batch(source, "-o", out, "-j", "2", "--chunk-size", "3", "--case-timeout", "2")
    records = lines(out)
    assert [r["case_id"] for r in records] == [f"b{i:04d}" for i in range(8)]
    assert [r["status"] for r in records].count("error") == 1
    assert records[3]["error"]["message"] == ("evaluating this case took longer than 2 s (--case-timeout); its "
                                              "worker was replaced and the run went on")
    assert "inputs: 8, results: 7, errors: 1" in result.output
    assert not started_since(before)


class _SlowToReplace:
    """A worker object that is slow to build once the first workers are up (a fresh worker on a loaded
    machine), with items that sleep, then return or kill their worker."""

    def __init__(self, marker: str):
        if os.path.exists(marker):
            time.sleep(2.5)

    def __call__(self, item):
        kind, seconds = item
        time.sleep(seconds)
        if kind == "die":
            os._exit(1)
        return item


def test_a_slow_replacement_does_not_time_out_a_worker_that_finished_meanwhile(tmp_path):
    """While a dead worker is replaced the pool watches no one: a worker that finished in that time has
    its results waiting, and is not killed as stuck (the per-case time bound is per case, not per wait)."""
    marker = tmp_path / "started"
    before = children(os.getpid())
    backend = pool.ProcessBackend(2, _SlowToReplace, (str(marker),), timeout=1.0)
    backend.start()
    marker.touch()
    try:
        results = [r for chunk in pool.ordered(iter([("ok", 1.2), ("die", 0.6)]), backend, 1, 4,
                                               lambda item, failure: (item[0], failure.kind)) for r in chunk]
    finally:
        backend.shutdown(now=True)
    assert results == [("ok", 1.2), ("die", "died")]
    assert not started_since(before)



def test_a_case_id_that_is_not_unicode_is_an_error_record_and_the_batch_goes_on(tmp_path):
    """A lone surrogate in a case id once ended `cdss batch` with an internal error and no output."""
    source = jsonl(tmp_path / "in.jsonl", [case(0), '{"id": "b\\udfff", "patient": {"age_years": 40}}', case(2)])
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        result = batch(str(source), "-j", jobs, "-q", "-o", str(out))
        assert result.exit_code == 1 and "internal error" not in result.output
        records = lines(out)
        assert [r["status"] for r in records] == ["ok", "error", "ok"]
        assert records[1]["error"]["pointer"] == "/id" and "expected Unicode text" in records[1]["error"]["message"]
