"""Build step: an installed wheel carries the shipped rules and schemas as package data (cdss/data/), so
that cdss runs outside the checkout. Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own rules/ and schemas/
        for folder, pattern in (("rules", "*.yaml"), ("schemas", "*.json")):
            target = Path(self.build_lib) / "cdss" / "data" / folder
            target.mkdir(parents=True, exist_ok=True)
            for path in sorted((HERE / folder).glob(pattern)):
                shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": BuildWithData})
