"""Model files: our format round-trips, RootPainter's files load, unsafe files are refused."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from cluster.io.model_files import (
    ModelFileError,
    load_model_file,
    model_from_bytes,
    model_to_bytes,
    save_model,
)
from cluster.io.model_names import model_file_name, parse_model_name
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import model_from_snapshot, snapshot_from_model


@pytest.fixture(scope="module")
def network() -> UNetGNRes:
    torch.manual_seed(0)
    return UNetGNRes()


def test_our_file_round_trips_weights_and_metadata(tmp_path: Path, network: UNetGNRes) -> None:
    snap = snapshot_from_model(
        network, version=7, f1=0.8125, parent="000006_1700000000.pt", tile_size=252,
        metadata={"epoch": "12"},
    )  # fmt: skip
    path = tmp_path / model_file_name(snap.version, snap.created)
    save_model(path, snap)
    assert parse_model_name(path.name) == (7, int(snap.created))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    back = load_model_file(path)
    assert (back.version, back.f1, back.parent, back.tile_size) == (7, 0.8125, snap.parent, 252)
    assert back.classes == snap.classes
    assert back.created == snap.created
    assert back.metadata == {"epoch": "12"}
    assert back.state_dict.keys() == snap.state_dict.keys()
    for key, value in snap.state_dict.items():
        np.testing.assert_array_equal(back.state_dict[key], value)
    # plain data only: torch's safe loader reads it without our code
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "rptui-model"
    from_bytes = model_from_bytes(model_to_bytes(snap))
    np.testing.assert_array_equal(from_bytes.state_dict["conv_out.0.weight"],
                                  snap.state_dict["conv_out.0.weight"])  # fmt: skip
    buffer = io.BytesIO()
    save_model(buffer, snap)
    assert model_from_bytes(buffer.getvalue()).version == 7


@pytest.mark.parametrize("prefix", ["", "module."])
def test_rootpainter_file_loads(tmp_path: Path, network: UNetGNRes, prefix: str) -> None:
    state = {prefix + k: v.clone() for k, v in network.state_dict().items()}
    path = tmp_path / "000012_1690000000.pkl"
    torch.save(state, path)
    snap = load_model_file(path)
    assert snap.version == 12
    assert snap.created == 1690000000
    assert snap.classes == ("background", "foreground")
    model = model_from_snapshot(snap).eval()
    image = torch.rand(1, 3, 76, 76)
    with torch.inference_mode():
        torch.testing.assert_close(model(image), network.eval()(image))


def test_unnamed_rootpainter_file_gets_version_one(tmp_path: Path, network: UNetGNRes) -> None:
    path = tmp_path / "best_model.pkl"
    torch.save(network.state_dict(), path)
    assert load_model_file(path).version == 1


class _Payload:
    """Runs a shell command when unpickled, as a malicious model file would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_file_with_payload_is_refused_unrun(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "payload-ran"
    path = tmp_path / "000002_1690000000.pkl"
    if writer == "pickle":
        path.write_bytes(pickle.dumps({"weights": [0.5], "evil": _Payload(marker)}, protocol=2))
    else:
        torch.save({"conv_in.0.weight": torch.zeros(1), "evil": _Payload(marker)}, path)
    with pytest.raises(ModelFileError, match=r"000002_1690000000\.pkl.*refused"):
        load_model_file(path)
    assert not marker.exists()


def test_corrupt_file_is_named(tmp_path: Path, network: UNetGNRes) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(model_to_bytes(snapshot_from_model(network, version=1))[:5000])
    with pytest.raises(ModelFileError, match=r"broken\.pt"):
        load_model_file(path)
    with pytest.raises(ModelFileError, match=r"missing\.pt"):
        load_model_file(tmp_path / "missing.pt")


def test_wrong_architecture_says_what_is_wrong(tmp_path: Path, network: UNetGNRes) -> None:
    state = dict(network.state_dict())
    del state["up2.conv3.2.bias"]
    state["down1.conv1.0.weight"] = torch.zeros(32, 64, 3, 3)
    path = tmp_path / "other.pkl"
    torch.save(state, path)
    with pytest.raises(ModelFileError, match=r"other\.pkl.*(up2\.conv3\.2\.bias|down1\.conv1)"):
        load_model_file(path)
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"other\.pkl"):
        load_model_file(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(ModelFileError, match=r"other\.pkl"):
        load_model_file(path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000001_1700000000.pkl", (1, 1700000000)),
        ("/a/b/000123_1600000000.pt", (123, 1600000000)),
        ("000007_1700000000", (7, 1700000000)),
        ("model.pkl", None),
        ("12_1700000000.pkl", None),
        ("000001-1700000000.pkl", None),
    ],
)
def test_parse_model_name(name: str, expected: tuple[int, int] | None) -> None:
    assert parse_model_name(name) == expected
