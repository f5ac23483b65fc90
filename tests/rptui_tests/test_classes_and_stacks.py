"""Multi-class projects (classes, colours, label PNGs) and stacks as project items."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.io.image_limits import ImageReadError
from cluster.io.stacks import parse_slice_name
from rptui.cli import main
from rptui.store.annotation import Annotation, AnnotationError
from rptui.store.annotation_files import from_png_bytes, to_png_bytes
from rptui.store.dataset import create_dataset
from rptui.store.project_config import PROJECT_FILE_NAME
from rptui.store.workspace import CorruptProjectError, Workspace, WorkspaceError

CT_CLASSES = ("background", "air", "soil", "root")
K = len(CT_CLASSES)
SIDE = 16
N_PAGES = 5
N_SLICES = 12
# project.json of a binary project as written before classes had colours (regression guard).
BINARY_KEYS = {
    "schema_version", "name", "dataset", "images", "classes", "start_model", "settings",
    "seed", "splits", "reviewed", "served", "position", "location", "rootpainter_file",
    "created",
}  # fmt: skip


def _png_mode(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:
        return image.mode


def test_three_class_labels_round_trip_as_a_single_channel_png() -> None:
    labels = np.random.default_rng(0).integers(0, K + 1, size=(23, 31)).astype(np.uint8)
    annotation = Annotation(labels, classes=K)
    annotation.paint_point(5, 5, radius=2, value=K)  # the last class paints like any other
    data = to_png_bytes(annotation.labels, classes=K)
    assert _png_mode(data) == "L"
    back = from_png_bytes(data, expected_shape=(23, 31), classes=K)
    np.testing.assert_array_equal(back, annotation.labels)
    assert set(np.unique(back)) == set(range(K + 1))


def test_binary_annotations_stay_rootpainter_rgba() -> None:
    labels = np.array([[UNLABELLED, BACKGROUND, FOREGROUND]], dtype=np.uint8)
    data = to_png_bytes(labels)
    assert _png_mode(data) == "RGBA"
    rgba = np.asarray(Image.open(io.BytesIO(data)))
    assert rgba[0, 1, :3].tolist() == [0, 255, 0] and rgba[0, 2, :3].tolist() == [255, 0, 0]
    np.testing.assert_array_equal(from_png_bytes(data), labels)
    # A RootPainter file is still read in a multi-class project (foreground = first class).
    np.testing.assert_array_equal(from_png_bytes(data, classes=K), labels)


def test_a_label_above_the_classes_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "annotations" / "train" / "scan.z0003.png"
    path.parent.mkdir(parents=True)
    labels = np.zeros((4, 4), np.uint8)
    labels[1, 2] = K + 1  # a fifth class in a four-class project
    path.write_bytes(to_png_bytes(labels, classes=K + 1))
    with pytest.raises(AnnotationError, match=rf"scan\.z0003\.png.*label value {K + 1} is above"):
        from_png_bytes(path.read_bytes(), classes=K, source=path)
    with pytest.raises(AnnotationError, match=r"labels must lie in 0\.\.3"):
        to_png_bytes(np.full((2, 2), 4, np.uint8), classes=3)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    data = ws.datasets_dir / "ct"
    data.mkdir()
    Image.fromarray(np.full((SIDE, SIDE), 7, np.uint8)).save(data / "photo.png")
    pages = np.stack([np.full((SIDE, SIDE), 40 * z, np.uint8) for z in range(N_PAGES)])
    tifffile.imwrite(data / "core.tif", pages, photometric="minisblack")
    (data / "scan").mkdir()
    for n in range(1, N_SLICES + 1):
        Image.fromarray(np.full((SIDE, SIDE), 10 * n, np.uint8)).save(data / "scan" / f"s_{n}.png")
    return ws


def test_classes_and_colours_survive_project_json(workspace: Workspace) -> None:
    project = workspace.create_project(
        "ct", "ct", classes=CT_CLASSES, colours={"soil": "#123456"}, seed=0
    )
    project.close()
    saved = json.loads((workspace.project_dir("ct") / PROJECT_FILE_NAME).read_text())
    assert saved["classes"] == list(CT_CLASSES) and saved["colours"] == {"soil": "#123456"}
    with workspace.open_project("ct") as reopened:
        assert reopened.config.classes == CT_CLASSES and reopened.config.n_classes == K
        assert reopened.class_colours() == {
            "air": (0xE6, 0x9F, 0x00),  # Okabe-Ito orange, first by default
            "soil": (0x12, 0x34, 0x56),  # the colour given
            "root": (0x00, 0x9E, 0x73),  # Okabe-Ito's third
        }


def test_binary_project_json_is_unchanged(workspace: Workspace) -> None:
    workspace.create_project("bin", "ct", seed=0).close()
    saved = json.loads((workspace.project_dir("bin") / PROJECT_FILE_NAME).read_text())
    assert set(saved) == BINARY_KEYS and saved["classes"] == ["background", "foreground"]
    with workspace.open_project("bin") as project:
        assert project.class_colours() == {"foreground": (255, 0, 0)}


@pytest.mark.parametrize(
    "classes",
    [
        ("background", "a/b"),
        ("background", ".."),
        ("background", ""),
        ("background", "air", "Air"),
        ("background",),
        ("background", *(f"c{i}" for i in range(10))),
    ],
    ids=["separator", "dotdot", "empty", "twice", "one", "eleven"],
)
def test_bad_class_names_are_refused(workspace: Workspace, classes: tuple[str, ...]) -> None:
    with pytest.raises(WorkspaceError):
        workspace.create_project("p", "ct", classes=classes)
    assert not (workspace.project_dir("p") / PROJECT_FILE_NAME).exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("classes", ["background", "../../etc"]),
        ("colours", {"air": "red"}),
        ("colours", {"bone": "#000000"}),
        ("images", ["../outside"]),
    ],
)
def test_escaping_or_bad_entries_in_project_json_are_refused(
    workspace: Workspace, key: str, value: object
) -> None:
    workspace.create_project("p", "ct", classes=CT_CLASSES, seed=0).close()
    path = workspace.project_dir("p") / PROJECT_FILE_NAME
    obj = json.loads(path.read_text())
    obj[key] = value
    path.write_text(json.dumps(obj))
    with pytest.raises(CorruptProjectError, match=str(path)):
        workspace.open_project("p")


def test_stacks_are_items_with_named_slices(workspace: Workspace) -> None:
    with workspace.create_project("ct", "ct", classes=CT_CLASSES, seed=0) as project:
        assert sorted(project.image_names) == ["core.tif", "photo.png", "scan"]
        by_name = {name: index for index, name in enumerate(project.image_names)}
        core, photo, scan = by_name["core.tif"], by_name["photo.png"], by_name["scan"]
        assert [project.depth(i) for i in (core, photo, scan)] == [N_PAGES, 1, N_SLICES]
        assert project.slice_name(photo, 0) == "photo"
        assert project.slice_name(scan, 2) == "scan.z0003"
        assert project.slice_names(core)[-1] == "core.z0005"
        for index in (core, photo, scan):
            for z, name in enumerate(project.slice_names(index)):
                assert project.locate(name) == (index, z)
        assert parse_slice_name("scan.z0003") == ("scan", 2)
        assert int(project.read_slice(scan, 9)[0, 0, 0]) == 100  # s_10, not s_2 or s_1x
        assert int(project.read_named("core.z0004")[0, 0, 0]) == 120
        assert int(project.read_slice(photo)[0, 0, 0]) == 7
        for z in (N_SLICES, -1):
            with pytest.raises(ImageReadError, match="out of range"):
                project.read_slice(scan, z)
        for missing in ("scan.z0013", "photo.z0001", "nothing"):
            with pytest.raises(WorkspaceError):
                project.locate(missing)
        # Each annotated slice is its own annotation, with its own split.
        png = to_png_bytes(np.ones((SIDE, SIDE), np.uint8), classes=K)
        splits = [project.save_annotation_png(f"scan.z000{n}", None, png) for n in (1, 2)]
        assert project.annotated() == {"scan.z0001": splits[0], "scan.z0002": splits[1]}


def test_dataset_create_copies_stacks_whole(workspace: Workspace, tmp_path: Path) -> None:
    source = workspace.datasets_dir / "ct"
    big = np.zeros((1300, 700, 3), np.uint8)
    Image.fromarray(big).save(source / "field.png")
    report = create_dataset(source, tmp_path / "out")
    names = sorted(p.name for p in report.written)
    assert names == ["core.tif", "field_0_0.png", "field_1_0.png", "photo.png", "scan"]
    assert (tmp_path / "out" / "core.tif").read_bytes() == (source / "core.tif").read_bytes()
    copied = sorted(p.name for p in (tmp_path / "out" / "scan").iterdir())
    assert copied == sorted(f"s_{n}.png" for n in range(1, N_SLICES + 1))


def test_cli_creates_a_multiclass_project(workspace: Workspace) -> None:
    root = str(workspace.root)
    args = ["--workspace", root, "project", "create", "ct", "--dataset", "ct", "--seed", "1"]
    assert main([*args, "--classes", "air,soil,root", "--colours", "root=#E69F00"]) == 0
    with workspace.open_project("ct") as project:
        assert project.config.classes == CT_CLASSES
        assert project.config.colours == {"root": "#e69f00"}
    assert main([*args[:4], "bin", *args[5:]]) == 0
    with workspace.open_project("bin") as project:
        assert project.config.classes == ("background", "foreground")
        assert project.config.colours is None


def test_a_deep_stack_shows_each_material_alike_on_every_slice(workspace: Workspace) -> None:
    pages = np.full((2, SIDE, SIDE), 1000, np.uint16)  # air
    pages[:, :, SIDE // 2 :] = 20000  # soil
    pages[1, : SIDE // 4] = 40000  # root, on the second slice only
    tifffile.imwrite(workspace.datasets_dir / "ct" / "deep.tif", pages, photometric="minisblack")
    with workspace.create_project("ct", "ct", classes=CT_CLASSES, seed=0) as project:
        deep = project.image_names.index("deep.tif")
        soil = [int(project.read_slice(deep, z)[-1, -1, 0]) for z in (0, 1)]
        assert soil[0] == soil[1] < 255
