"""The README's two set-up commands stay true: CI runs the very test command the README gives."""

from tests.helpers.paths import ROOT


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(readme) == 2
    main_job, test_command = readme
    assert "cdss batch cases/ --check" in main_job
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
