"""The conventions every `cdss` command keeps: exit codes, -q/-v, --format json, --version, colour only on a
terminal, defaults from a config file and the environment, and shell completion."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from cdss.cli import COMMANDS, main
from tests.helpers.paths import CASES, ROOT
from tests.helpers.rulekit import folder, rule

CASE = {"id": "conv-knee", "patient": {"age_years": 60},
        "pain": {"hip": "none", "knee": "left", "activity_related": True}}


def knee_rules(tmp_path):
    return folder(tmp_path, [
        rule("t.flag", {"field": "joints.hot_swollen_joint", "eq": True},
             [{"red_flag": {"code": "septic_arthritis", "status": "suspected", "urgency": "emergency"}}]),
        rule("t.knee", {"field": "pain.knee", "in": ["left", "right", "both"]},
             [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}},
              {"recommend": {"code": "xray_knee", "urgency": "urgent", "for": ["knee_osteoarthritis"]}}]),
    ])


def every_command():
    """(path, click command) for every command and subcommand `cdss` has, loaded as a user would."""
    ctx = click.Context(main)
    out = []

    def visit(path, command):
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                visit(path + [name], command.get_command(ctx, name))
        else:
            out.append((path, command))
    for name in COMMANDS:
        visit([name], main.get_command(ctx, name))
    return out


def test_every_command_has_quiet_verbose_and_documents_its_exit_codes():
    commands = every_command()
    assert len(commands) >= 8
    for path, command in commands:
        opts = {opt for param in command.params for opt in param.opts}
        assert {"-q", "--quiet", "-v", "--verbose"} <= opts, path
        help_text = CliRunner().invoke(main, path + ["--help"]).output
        assert "3 internal error" in " ".join(help_text.split()), path


def test_main_help_documents_exit_codes_environment_config_and_completion():
    text = CliRunner().invoke(main, ["--help"]).output
    for needle in ("0 ok", "1 findings", "2 usage error", "3 internal error", "CDSS_RULES", "CDSS_LANG",
                   "CDSS_JOBS", "CDSS_PROFILE", "NO_COLOR", "[tool.cdss]", "cdss.toml", "_CDSS_COMPLETE=bash_source"):
        assert needle in text, needle


def test_quiet_and_verbose_together_are_a_usage_error(tmp_path):
    done = CliRunner().invoke(main, ["rules", "list", "-q", "-v", "--rules", str(knee_rules(tmp_path))])
    assert done.exit_code == 2 and "cannot be used together" in done.output


def test_usage_error_is_2_and_bad_input_is_1(tmp_path):
    assert CliRunner().invoke(main, ["evaluate"]).exit_code == 2
    assert CliRunner().invoke(main, ["evaluate", "x.json", "--format", "yaml"]).exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert CliRunner().invoke(main, ["evaluate", str(bad)]).exit_code == 1


def test_an_internal_error_is_one_line_and_exit_3(tmp_path, monkeypatch):
    """A bug (any exception that is not a CdssError) inside a command: exit 3, one line, no traceback."""
    module = tmp_path / "cdss_broken_command.py"
    module.write_text("import click\n@click.command('broken')\ndef broken():\n    {}['missing']\n")
    probe = ("import sys\nsys.path.insert(0, sys.argv[1])\nfrom cdss.cli import COMMANDS, main\n"
             "COMMANDS['broken'] = ('cdss_broken_command', 'broken')\nmain(['broken'])\n")
    env = {k: v for k, v in os.environ.items() if k != "CDSS_DEBUG"}
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 3
    assert done.stderr.strip() == ("cdss: error: internal error: KeyError: 'missing' "
                                   "(set CDSS_DEBUG=1 for the traceback)")
    debug = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True,
                           env=dict(env, CDSS_DEBUG="1"), cwd=ROOT, timeout=60)
    assert "Traceback" in debug.stderr


def test_version_names_cdss_knowledge_base_profile_and_durable_rules(tmp_path):
    rules = knee_rules(tmp_path)
    done = CliRunner().invoke(main, ["--version"], env={"CDSS_RULES": str(rules)})
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith("cdss ")
    assert lines[1].startswith("knowledge base 9.9.9 (sha256 ") and len(lines[1].split("sha256 ")[1]) == 65
    assert f"rules {rules}" in lines
    assert "profile nice" in lines
    assert "durable-rules 2.0.28" in lines
    nhg = CliRunner().invoke(main, ["--version"], env={"CDSS_RULES": str(rules), "CDSS_PROFILE": "nhg"})
    assert "profile nhg" in nhg.output.splitlines()


def test_rules_list_and_show_as_json(tmp_path):
    rules = knee_rules(tmp_path)
    listed = CliRunner().invoke(main, ["rules", "list", "--format", "json", "--rules", str(rules)])
    data = json.loads(listed.output)
    assert data["knowledge_base"]["version"] == "9.9.9"
    assert [r["id"] for r in data["rules"]] == ["t.flag", "t.knee"]
    assert data["rules"][1]["concludes"] == ["condition:knee_osteoarthritis:suspected", "recommend:xray_knee:urgent"]
    shown = json.loads(CliRunner().invoke(main, ["rules", "show", "t.knee", "--format", "json", "--rules",
                                                 str(rules)]).output)
    assert shown["as_written"]["when"] == {"field": "pain.knee", "in": ["left", "right", "both"]}
    assert shown["file"].endswith("test.yaml") and shown["line"] > 0
    quiet = CliRunner().invoke(main, ["rules", "list", "-q", "--rules", str(rules)]).output
    assert quiet.split() == ["t.flag", "t.knee"]


def test_validate_as_json(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps(CASE))
    (tmp_path / "bad.json").write_text(json.dumps({"id": "b", "patient": {"age_years": 200}}))
    done = CliRunner().invoke(main, ["validate", str(tmp_path), "--format", "json"])
    assert done.exit_code == 1
    data = json.loads(done.stdout)
    assert data["cases"] == 2 and data["valid"] == 1
    assert data["invalid"][0]["pointer"] == "/patient/age_years" and data["invalid"][0]["file"].endswith("bad.json")


def test_config_file_and_environment_give_defaults_and_the_command_line_wins(tmp_path):
    rules = knee_rules(tmp_path)
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE))
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.cdss]\nrules = "{rules}"\nlang = "nl"\n')
    run = lambda *args, env=None: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "cdss.cli", *args], capture_output=True, text=True, cwd=project, timeout=60,
        env={k: v for k, v in dict(os.environ, **(env or {})).items() if k not in ("CDSS_RULES", "CDSS_LANG")
             or (env and k in env)})
    out = run("evaluate", str(case)).stdout
    assert "kennisbank 9.9.9" in out and "AANDOENINGEN" in out  # rules and language from [tool.cdss]
    assert "CONDITIONS" in run("evaluate", str(case), "--lang", "en").stdout  # the command line wins
    assert "CONDITIONS" in run("evaluate", str(case), env={"CDSS_LANG": "en"}).stdout  # then the environment
    (project / "cdss.toml").write_text('lang = "en"\n')  # cdss.toml is read before pyproject.toml
    out = run("evaluate", str(case)).stdout
    assert "CONDITIONS" in out and "knowledge base 0." in out
    (project / "cdss.toml").write_text('lang = "fr"\n')
    bad = run("evaluate", str(case))
    assert bad.returncode == 2 and "cdss.toml: 'lang' must be one of en, nl (got 'fr')" in bad.stderr
    assert "Traceback" not in bad.stderr


def _on_a_terminal(args, env):
    """Run cdss with standard output on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "cdss.cli", *args], stdout=follower, stderr=subprocess.PIPE,
                            env=env, cwd=ROOT)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_only_and_never_with_no_color(tmp_path):
    rules = knee_rules(tmp_path)
    case = tmp_path / "case.json"
    case.write_text(json.dumps(dict(CASE, joints={"hot_swollen_joint": True})))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    args = ["evaluate", str(case), "--rules", str(rules)]
    coloured = _on_a_terminal(args, env)
    assert "\x1b[31m\x1b[1m  !! Septic arthritis" in coloured.replace("\x1b[1m\x1b[31m", "\x1b[31m\x1b[1m")
    assert "\x1b[" in coloured.split("X-ray of the knee")[1].splitlines()[0]  # the urgency is marked
    assert "\x1b[" not in _on_a_terminal(args, dict(env, NO_COLOR="1"))
    piped = subprocess.run([sys.executable, "-m", "cdss.cli", *args], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=60)
    assert "!! Septic arthritis" in piped.stdout and "\x1b[" not in piped.stdout


def _complete(words: str, tmp_path, env_extra=None) -> list[str]:
    env = dict(os.environ, _CDSS_COMPLETE="bash_complete", COMP_WORDS=words,
               COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)), **(env_extra or {}))
    done = subprocess.run([sys.executable, "-c", "from cdss.cli import main; main(prog_name='cdss')"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]  # "plain,<value>" per item


def test_shell_completion_of_rule_ids_and_why_not_codes(tmp_path):
    rules = knee_rules(tmp_path)
    assert _complete(f"cdss rules show --rules {rules} t.k", tmp_path) == ["t.knee"]
    assert set(_complete(f"cdss rules show --rules {rules} t.", tmp_path)) == {"t.flag", "t.knee"}
    shipped = _complete("cdss rules show oa.knee.clin", tmp_path)
    assert shipped and all(item.startswith("oa.knee.clin") for item in shipped)
    assert "septic_arthritis" in _complete("cdss evaluate case.json --why-not sept", tmp_path)
    assert "xray_knee" in _complete("cdss evaluate case.json --why-not xray_k", tmp_path)


@pytest.mark.parametrize("path", [["rules", "list"], ["validate", str(CASES)]])
def test_quiet_prints_less_and_verbose_more(path):
    normal = CliRunner().invoke(main, path).output
    quiet = CliRunner().invoke(main, path + ["-q"]).output
    verbose = CliRunner().invoke(main, path + ["-v"]).output
    assert len(quiet) < len(normal) < len(verbose)
