"""The CI recipes in docs/ci/ run as written: their shell steps, in order, in a temporary clone of this
repository with a two-script library, so they cannot drift from the CLI. Steps that are a CI service's own
actions (checkout, cache, artifacts) and the install step (this suite already runs in the installed
environment) are what is left out."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # clones the repository and builds the library

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "docs" / "ci"
SCRIPT = "---\ntitle: {title}\nvoice: steady\n---\n## Arrival\nLet your eyes close. [pause 1s] Rest here, {name}.\n"


@pytest.fixture
def workspace(tmp_path, cache_dir):
    if not (REPO / ".git").exists():
        pytest.skip("the recipes are tested in a clone of the repository")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{REPO}", str(clone)], check=True)
    for script in (clone / "scripts").iterdir():
        script.unlink()
    for name in ("first", "second"):
        (clone / "scripts" / f"{name}.txt").write_text(SCRIPT.format(title=name.title(), name=name))
    return clone


def run(workspace: Path, commands: list[str], env: dict) -> subprocess.CompletedProcess:
    """One CI job's commands in one shell, as the runner would, with this suite's `drift` on the PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
        cwd=workspace,
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
    )


def github_jobs() -> list[tuple[str, list[str], dict]]:
    workflow = yaml.safe_load((RECIPES / "github-actions.yml").read_text())
    env = {k: str(v) for k, v in workflow["env"].items()}
    jobs = []
    for name, job in workflow["jobs"].items():
        shards = job.get("strategy", {}).get("matrix", {}).get("shard", [None])
        for shard in shards:
            steps = [
                step["run"].replace("${{ matrix.shard }}", str(shard))
                for step in job["steps"]
                if "run" in step and step.get("name") != "Install"
            ]
            jobs.append((f"{name} {shard or ''}".strip(), steps, env))
    return jobs


def gitlab_jobs() -> list[tuple[str, list[str], dict]]:
    pipeline = yaml.safe_load((RECIPES / "gitlab-ci.yml").read_text())
    env = {k: str(v) for k, v in pipeline["variables"].items()}
    jobs = []
    for stage in pipeline["stages"]:
        for name, job in pipeline.items():
            if isinstance(job, dict) and job.get("stage") == stage:
                setup = [line for line in job.get("before_script", []) if not line.startswith("make ")]
                for index in range(1, job.get("parallel", 1) + 1):
                    nodes = {"CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(job.get("parallel", 1))}
                    jobs.append((f"{name} {index}", setup + job["script"], {**env, **nodes}))
    return jobs


@pytest.mark.parametrize("recipe", [github_jobs, gitlab_jobs], ids=["github", "gitlab"])
def test_the_recipe_builds_the_library_and_its_gate_fails_when_a_script_changes(recipe, workspace, cache_dir):
    jobs = recipe()
    assert [name.split()[0] for name in dict.fromkeys(n for n, _, _ in jobs)][-1] == "current"
    for name, commands, env in jobs:
        done = run(workspace, commands, {**env, "DRIFT_CACHE": str(cache_dir)})
        assert done.returncode == 0, f"{name}: {done.stdout}\n{done.stderr}"
    built = sorted(p.name for p in (workspace / "build").glob("*.json"))
    assert built == ["first.json", "library.json", "second.json"]  # both shards' tracks, in one library
    (workspace / "scripts" / "second.txt").write_text(SCRIPT.format(title="Second", name="again"))
    gate_name, gate, env = jobs[-1]
    refused = run(workspace, gate, {**env, "DRIFT_CACHE": str(cache_dir)})
    assert refused.returncode == 1 and "stale" in refused.stdout and "second" in refused.stdout
