"""Build hook: a wheel carries the default model as package data.

``models/finsentry-minilm/`` is copied into the built package as
``finsentry/bundled_models/finsentry-minilm/``, where ``finsentry.scoring.modeldir`` looks for it
when no source checkout is around (a regular, non-editable install). Editable installs read the
checkout's ``models/`` directly and get no copy. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODEL = Path(__file__).resolve().parent / "models" / "finsentry-minilm"


class BuildWithDefaultModel(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not MODEL.is_dir():
            return
        target = Path(self.build_lib) / "finsentry" / "bundled_models" / MODEL.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(MODEL, target)


setup(cmdclass={"build_py": BuildWithDefaultModel})
