"""A project's settings, typed: the ``settings`` object of ``project.json``.

Read and change settings through :class:`ProjectSettings`' attributes
(``project.config.settings.pre_segment``, ``.overlay_opacity``, ``.brush_radius(...)``),
never through the raw JSON. The keys in the file are the attribute names, the keys rptui
has always written, so RootPainter and older rptui versions read the file as before.

Reading never fails: a value of the wrong type or out of its range is named in
:attr:`ProjectSettings.problems` (one line each, for the app and the log) and its
default is used. The file is left as it is: the value written there goes back into the
file unchanged until the user changes that setting, and keys this version does not know
are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

SETTINGS_KEY = "settings"  # the object's key in project.json
MAX_PRE_SEGMENT = 10  # images segmented ahead of the one on screen, at most
MAX_BRUSH_RADIUS = 200
SEQUENTIAL = "sequential"  # the serve orders (rptui.session.order)
UNCERTAIN = "uncertain"
ORDERS = (SEQUENTIAL, UNCERTAIN)
DEFAULT_PALETTE = "default"  # the overlay palettes (rptui.tui.canvas.palettes.PALETTES)
COLOURBLIND_PALETTE = "colourblind"
PALETTES = (DEFAULT_PALETTE, COLOURBLIND_PALETTE)
FOREGROUND_BRUSH = "foreground_brush_size"
BACKGROUND_BRUSH = "background_brush_size"
STACK_SLICES = "stack_slices"
# Fields that are not settings in the file.
_INTERNAL = frozenset({"extra", "problems", "rejected"})


@dataclass(frozen=True)
class Bounds:
    """The range of a numeric setting (both ends included)."""

    low: float
    high: float

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high

    @property
    def span(self) -> tuple[float, float]:
        """(low, high)."""
        return self.low, self.high


BOUNDS: dict[str, Bounds] = {
    "pre_segment": Bounds(0, MAX_PRE_SEGMENT),
    FOREGROUND_BRUSH: Bounds(0, MAX_BRUSH_RADIUS),
    BACKGROUND_BRUSH: Bounds(0, MAX_BRUSH_RADIUS),
    "overlay_opacity": Bounds(0.0, 1.0),
}
CHOICES: dict[str, tuple[str, ...]] = {"palette": PALETTES, "order": ORDERS}


@dataclass
class ProjectSettings:
    """What the user set for a project: pre-segmenting, brushes, overlay, keys, order.

    ``stack_slices`` remembers the 1-based slice the user left in each stack (only
    stacks get an entry). ``extra`` holds keys this version does not know;
    ``problems`` the values that were refused on reading; ``rejected`` those values
    as written, kept for the file (see the module docstring).
    """

    pre_segment: int = 1
    foreground_brush_size: int = 3
    background_brush_size: int = 9
    overlay_opacity: float = 0.5
    palette: str = DEFAULT_PALETTE
    key_bindings: dict[str, str] = field(default_factory=dict)
    order: str = SEQUENTIAL
    stack_slices: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list, compare=False)
    rejected: dict[str, Any] = field(default_factory=dict, compare=False)

    def brush_radius(self, *, foreground: bool) -> int:
        """The radius of the foreground brush (every class) or of the background brush."""
        return self.foreground_brush_size if foreground else self.background_brush_size

    def set_brush_radius(self, radius: int, *, foreground: bool) -> None:
        """Change a brush's radius, kept within 0..MAX_BRUSH_RADIUS."""
        radius = min(max(int(radius), 0), MAX_BRUSH_RADIUS)
        if foreground:
            self.foreground_brush_size = radius
        else:
            self.background_brush_size = radius

    def update(self, values: dict[str, Any]) -> None:
        """Set several settings at once (keys as in the file), checked as on reading.

        Raises:
            ValueError: naming the first value that is not valid; nothing is changed then.
        """
        for name, value in values.items():
            if name not in setting_names():
                raise ValueError(f"{SETTINGS_KEY}.{name}: no such setting")
            problem = _problem(name, value)
            if problem is not None:
                raise ValueError(f"{SETTINGS_KEY}.{name}: {_shown(value)} {problem}")
        for name, value in values.items():
            setattr(self, name, _typed(name, value))
            self.rejected.pop(name, None)

    def to_json(self) -> dict[str, Any]:
        """The object written to project.json: every setting, refused values as written,
        unknown keys kept; ``stack_slices`` only once a stack has an entry."""
        obj: dict[str, Any] = {}
        defaults = ProjectSettings()
        for name in setting_names():
            value = getattr(self, name)
            if name in self.rejected and value == getattr(defaults, name):
                obj[name] = self.rejected[name]
            elif name != STACK_SLICES or value:
                obj[name] = _copy(value)
        return {**obj, **self.extra}

    @classmethod
    def from_json(cls, obj: object) -> ProjectSettings:
        """Settings from project.json's ``settings`` object; never raises (see the module)."""
        settings = cls()
        if not isinstance(obj, dict):
            settings.problems.append(
                f"{SETTINGS_KEY} is not an object ({type(obj).__name__}); the defaults are used"
            )
            return settings
        names = set(setting_names())
        settings.extra = {key: value for key, value in obj.items() if key not in names}
        for name in names & obj.keys():
            value = obj[name]
            problem = _problem(name, value)
            if problem is None:
                setattr(settings, name, _typed(name, value))
                continue
            default = getattr(settings, name)
            settings.problems.append(
                f"{SETTINGS_KEY}.{name}: {_shown(value)} {problem}; using {_shown(default)}"
            )
            settings.rejected[name] = value
        return settings


def setting_names() -> list[str]:
    """The keys of the settings in project.json."""
    return [f.name for f in fields(ProjectSettings) if f.name not in _INTERNAL]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be setting ``name``; None when it can."""
    default = getattr(ProjectSettings(), name)
    if name in BOUNDS:
        whole = isinstance(default, int)
        if not _is_number(value) or (whole and float(value) != int(value)):
            return "is not a whole number" if whole else "is not a number"
        bounds = BOUNDS[name]
        if value not in bounds:
            return f"is not in {bounds.low:g}–{bounds.high:g}"
        return None
    if name in CHOICES:
        if value not in CHOICES[name]:
            return f"is not one of {', '.join(CHOICES[name])}"
        return None
    if name == "key_bindings":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
        ):
            return "is not an object of binding ids and keys"
        return None
    if name == STACK_SLICES:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and _is_number(v) and int(v) == v and v >= 1
            for k, v in value.items()
        ):
            return "is not an object of stack names and slice numbers"
        return None
    raise KeyError(name)


def _typed(name: str, value: Any) -> Any:
    """A valid value in the attribute's type (1.0 as 1 for whole numbers)."""
    default = getattr(ProjectSettings(), name)
    if isinstance(default, bool | str):
        return value
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if name == STACK_SLICES:
        return {key: int(number) for key, number in value.items()}
    return _copy(value)


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value
