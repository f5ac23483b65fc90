"""Fuzzing what users hand over: image files, project.json and annotation PNGs.

Each case mutates a valid file (bytes flipped, replaced or cut, mostly in the header) or
builds JSON at random; the readers must answer with a value or their own one-line error,
never another exception. A few hundred cases run in the default suite (derandomized, so
a failure repeats); ``-m slow`` runs thousands with fresh randomness.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cluster.io.image_limits import ImageReadError
from cluster.io.images import page_count, read_image, read_mask
from rptui.store.annotation import AnnotationError
from rptui.store.annotation_files import from_png_bytes, to_png_bytes
from rptui.store.paths import WorkspaceError
from rptui.store.project_config import ProjectConfig, load_config
from rptui.store.settings import BOUNDS, CHOICES, ProjectSettings, setting_names

# Pillow warns about the damage it skips over in TIFF headers: expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
THOROUGH = settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SIDE = 12
HEADER_BYTES = 160  # most mutations land here, where the format's structure is
MAX_PIXELS = 1_000_000  # a header claiming more is refused before any decoding
RNG = np.random.default_rng(7)


def _png(array: np.ndarray, **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _seed_files() -> dict[str, bytes]:
    rgb = RNG.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    deep = RNG.integers(0, 65535, (SIDE, SIDE), dtype=np.uint16)
    jpeg, tiff, stack = io.BytesIO(), io.BytesIO(), io.BytesIO()
    Image.fromarray(rgb).save(jpeg, format="JPEG")
    tifffile.imwrite(tiff, deep)
    tifffile.imwrite(
        stack, RNG.integers(0, 255, (3, SIDE, SIDE), np.uint8), photometric="minisblack"
    )
    return {
        "rgb.png": _png(rgb),
        "grey.png": _png(rgb[..., 0]),
        "palette.png": _png(rgb[..., 0] // 64, bits=2),
        "deep.png": _png(deep),
        "photo.jpg": jpeg.getvalue(),
        "deep.tif": tiff.getvalue(),
        "stack.tif": stack.getvalue(),
    }


SEEDS = _seed_files()


@st.composite
def mutated(draw: st.DrawFn, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    """A seed file with a few bytes flipped or replaced (mostly in its header), or cut."""
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    for _ in range(draw(st.integers(1, 6))):
        end = HEADER_BYTES if draw(st.booleans()) else len(data)
        position = draw(st.integers(0, min(end, len(data)) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return name, bytes(data)


def _reads_or_refuses(path: Path) -> None:
    try:
        image = read_image(path, max_pixels=MAX_PIXELS)
    except ImageReadError as error:
        assert error.reason and "\n" not in str(error)
    else:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    for reader in (page_count, lambda p: read_mask(p, max_pixels=MAX_PIXELS)):
        with contextlib.suppress(ImageReadError):
            reader(path)


def _check_images(tmp_path: Path, case: tuple[str, bytes]) -> None:
    name, data = case
    path = tmp_path / name
    path.write_bytes(data)
    _reads_or_refuses(path)


@FAST
@given(case=mutated(SEEDS))
def test_a_damaged_image_is_read_or_refused_with_its_reason(
    tmp_path: Path, case: tuple[str, bytes]
) -> None:
    _check_images(tmp_path, case)


@pytest.mark.slow
@THOROUGH
@given(case=mutated(SEEDS))
def test_a_damaged_image_is_read_or_refused_many_cases(
    tmp_path: Path, case: tuple[str, bytes]
) -> None:
    _check_images(tmp_path, case)


# --- annotation PNGs ---------------------------------------------------------------------
def _annotation_seeds() -> dict[str, bytes]:
    labels = RNG.integers(0, 3, (SIDE, SIDE), dtype=np.uint8)
    return {"binary.png": to_png_bytes(labels), "classes.png": to_png_bytes(labels, classes=4)}


ANNOTATIONS = _annotation_seeds()


def _check_annotation(case: tuple[str, bytes]) -> None:
    name, data = case
    classes = 4 if name == "classes.png" else 2
    try:
        labels = from_png_bytes(data, expected_shape=(SIDE, SIDE), classes=classes, source=name)
    except AnnotationError as error:
        assert name in str(error)
    else:
        assert labels.shape == (SIDE, SIDE) and int(labels.max(initial=0)) <= classes


@FAST
@given(case=mutated(ANNOTATIONS))
def test_a_damaged_annotation_is_read_or_refused_naming_its_file(case: tuple[str, bytes]) -> None:
    _check_annotation(case)


@pytest.mark.slow
@THOROUGH
@given(case=mutated(ANNOTATIONS))
def test_a_damaged_annotation_is_read_or_refused_many_cases(case: tuple[str, bytes]) -> None:
    _check_annotation(case)


# --- project.json ------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
SETTING_VALUES = st.one_of(
    JSON,
    *(st.floats(b.low - 2, b.high + 2) for b in BOUNDS.values()),
    *(st.sampled_from(choices) for choices in CHOICES.values()),
)
VALID = ProjectConfig(name="p", dataset="d", images=["a.png", "b.png"]).to_json()


@st.composite
def project_files(draw: st.DrawFn) -> bytes:
    """project.json with some of its values (settings above all) replaced by anything."""
    content = json.loads(json.dumps(VALID))
    for key in draw(st.lists(st.sampled_from(sorted(content)), max_size=3)):
        content[key] = draw(JSON)
    for name in draw(st.lists(st.sampled_from(setting_names()), max_size=4)):
        if isinstance(content.get("settings"), dict):
            content["settings"][name] = draw(SETTING_VALUES)
    text = json.dumps(content)
    if draw(st.integers(0, 9)) == 0:  # damaged text, not only damaged values
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=4)) + text[cut:]
    return text.encode("utf-8", errors="surrogatepass")


def _check_project_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "project.json"
    path.write_bytes(data)
    try:
        config = load_config(path)
    except WorkspaceError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    settings_ = config.settings
    for name, bounds in BOUNDS.items():
        assert getattr(settings_, name) in bounds
    for name, choices in CHOICES.items():
        assert getattr(settings_, name) in choices
    assert ProjectSettings.from_json(settings_.to_json()) == settings_  # saved as read
    json.dumps(config.to_json())  # what is saved back can be written


@FAST
@given(data=project_files())
def test_any_project_file_opens_or_is_named_corrupt(tmp_path: Path, data: bytes) -> None:
    _check_project_file(tmp_path, data)


@pytest.mark.slow
@THOROUGH
@given(data=project_files())
def test_any_project_file_opens_or_is_named_corrupt_many_cases(tmp_path: Path, data: bytes) -> None:
    _check_project_file(tmp_path, data)
