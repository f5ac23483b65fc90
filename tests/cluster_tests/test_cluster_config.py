"""ray_cluster.yaml: valid for Ray's own launcher, same versions as here, closed to the internet."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest
import ray
import yaml

CONFIG = Path(__file__).resolve().parents[2] / "ray_cluster.yaml"
SCHEMA = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_the_launcher_schema_accepts_it(config: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.is_file():
        pytest.skip("this ray does not ship the launcher schema")
    jsonschema.validate(config, json.loads(SCHEMA.read_text()))


def test_it_has_a_head_and_a_gpu_worker_type_with_bounds(config: dict) -> None:
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert head["node_config"]["InstanceType"]
    assert workers and all(0 <= t["min_workers"] <= t["max_workers"] for t in workers)
    assert any(t["node_config"]["InstanceType"].startswith(("g", "p")) for t in workers)


def test_every_node_runs_this_ray_and_python(config: dict) -> None:
    python = "py" + "".join(platform.python_version_tuple()[:2])
    assert f"ray:{ray.__version__}-{python}" in config["docker"]["image"]
    setup = " ".join(config["setup_commands"])
    assert f"ray=={ray.__version__}" in setup and "rptui-src" in setup


def test_token_auth_is_on_every_node(config: dict) -> None:
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    for command in (c for c in starts if "ray start" in c):
        assert "RAY_AUTH_MODE=token" in command
    assert "~/.ray/auth_token" in config["file_mounts"]


def test_no_ray_port_is_open_to_the_internet(config: dict) -> None:
    rules = config["provider"]["security_group"]["IpPermissions"]
    assert [(rule["FromPort"], rule["ToPort"]) for rule in rules] == [(22, 22)]
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start


TOKEN_RECIPE_FILES = ("README.md", "ray_cluster.yaml")


@pytest.mark.parametrize("name", TOKEN_RECIPE_FILES)
def test_the_token_recipe_makes_a_private_token_and_checks_it_before_launch(name: str) -> None:
    """Under the common umask 022 a plain `openssl ... > token` is readable by everyone."""
    text = (CONFIG.parent / name).read_text()
    recipe = [line for line in text.splitlines() if "openssl rand" in line]
    assert recipe and all("umask 077" in line for line in recipe)
    check = text.index('cut -c5-10)" = "------"')
    assert check < text.index("ray up ray_cluster.yaml")
