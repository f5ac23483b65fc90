"""ray_cluster.yaml: valid for Ray's own launcher, same versions as here, a GPU worker type
per common GPU count, and closed to the internet: read as the installed Ray reads it."""

from __future__ import annotations

import ast
import itertools
import json
import platform
import shlex
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml

CONFIG = Path(__file__).resolve().parents[2] / "ray_cluster.yaml"
SCHEMA = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
AWS_CONFIG = Path(ray.__file__).parent / "autoscaler" / "_private" / "aws" / "config.py"
GPU_COUNTS = {1, 4, 8}  # the common sizes of a GPU node
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ANY_ADDRESS = {"0.0.0.0", "::", "[::]"}
SSH = ("tcp", 22, 22)
OUR_GROUP = "sg-of-this-cluster"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_the_launcher_schema_accepts_it(config: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.is_file():
        pytest.skip("this ray does not ship the launcher schema")
    jsonschema.validate(config, json.loads(SCHEMA.read_text()))


def _workers(config: dict) -> dict[str, dict]:
    head = config["head_node_type"]
    return {name: t for name, t in config["available_node_types"].items() if name != head}


def test_it_has_a_head_and_a_gpu_worker_type_per_common_size(config: dict) -> None:
    head = config["available_node_types"][config["head_node_type"]]
    assert head["node_config"]["InstanceType"]
    workers = _workers(config)
    assert {t["resources"].get("GPU") for t in workers.values()} == GPU_COUNTS
    for name, worker in workers.items():
        assert worker["min_workers"] == 0, f"{name} starts only when asked for"
        assert 1 <= worker["max_workers"] <= config["max_workers"], name
        assert worker["node_config"]["InstanceType"].startswith(("g", "p")), name
        assert worker["resources"]["CPU"] >= worker["resources"]["GPU"], name


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


def _launcher_inbound_rules(config: dict) -> list[dict[str, Any]]:
    """The ingress rules the installed Ray's AWS launcher gives the security group it makes:
    its own defaults merged with the YAML's, by its own functions (read from its source:
    the module needs boto3 to import)."""
    if not AWS_CONFIG.is_file():
        pytest.skip("this ray has no AWS launcher")
    names = {
        "_create_default_inbound_rules",
        "_create_default_intracluster_inbound_rules",
        "_create_default_ssh_inbound_rules",
    }
    tree = ast.parse(AWS_CONFIG.read_text(encoding="utf-8"))
    functions: list[ast.stmt] = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names
    ]
    if len(functions) != len(names):
        pytest.skip("this ray's AWS launcher makes its rules another way")
    namespace: dict[str, Any] = {"itertools": itertools}
    exec(compile(ast.Module(functions, type_ignores=[]), str(AWS_CONFIG), "exec"), namespace)
    ours = config["provider"].get("security_group", {}).get("IpPermissions", [])
    return namespace["_create_default_inbound_rules"]({OUR_GROUP}, ours)


def test_only_ssh_is_open_to_the_internet(config: dict) -> None:
    rules = _launcher_inbound_rules(config)
    for rule in rules:
        outside = [*rule.get("IpRanges", []), *rule.get("Ipv6Ranges", [])]
        outside += rule.get("PrefixListIds", [])
        if outside:
            assert (rule["IpProtocol"].lower(), rule["FromPort"], rule["ToPort"]) == SSH, rule
        else:  # the nodes among themselves
            assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [OUR_GROUP], rule
    assert any(rule.get("IpRanges") for rule in rules), "SSH is reachable"
    for worker in config["available_node_types"].values():  # no other group's rules
        assert not {"SecurityGroupIds", "NetworkInterfaces"} & set(worker["node_config"])


def test_ec2_accepts_the_rules(config: dict) -> None:
    """EC2 refuses a request that names one permission twice."""
    rules = [json.dumps(rule, sort_keys=True) for rule in _launcher_inbound_rules(config)]
    assert len(rules) == len(set(rules))


def _ray_start_options(command: str) -> dict[str, Any] | None:
    """The options `ray start` in ``command`` runs with, defaults included (None: no
    `ray start`), parsed by the installed Ray's own command line."""
    from ray.scripts.scripts import start

    words = shlex.split(command)
    found = [i for i, word in enumerate(words[:-1]) if word == "ray" and words[i + 1] == "start"]
    if not found:
        return None
    return dict(start.make_context("ray start", words[found[0] + 2 :]).params)


def test_no_ray_process_is_bound_to_every_interface(config: dict) -> None:
    commands = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    starts = {command: _ray_start_options(command) for command in commands}
    started = {command: options for command, options in starts.items() if options is not None}
    assert len(started) == 2
    for command, options in started.items():
        assert not ANY_ADDRESS & set(shlex.split(command.replace("=", " "))), command
        assert options["node_ip_address"] not in ANY_ADDRESS
        if options["head"]:
            assert options["dashboard_host"] in LOOPBACK, "the dashboard: loopback only"
    run_options = " ".join(config["docker"].get("run_options", [])).split()
    assert not [word for word in run_options if word.startswith(("-p", "--publish", "-P"))]


TOKEN_RECIPE_FILES = ("README.md", "ray_cluster.yaml")


@pytest.mark.parametrize("name", TOKEN_RECIPE_FILES)
def test_the_token_recipe_makes_a_private_token_and_checks_it_before_launch(name: str) -> None:
    """Under the common umask 022 a plain `openssl ... > token` is readable by everyone."""
    text = (CONFIG.parent / name).read_text()
    recipe = [line for line in text.splitlines() if "openssl rand" in line]
    assert recipe and all("umask 077" in line for line in recipe)
    check = text.index('cut -c5-10)" = "------"')
    assert check < text.index("ray up ray_cluster.yaml")
