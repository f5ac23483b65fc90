"""A project's classes and their colours: names checked, colours parsed and defaulted.

Classes are names with background first; binary projects are ("background",
"foreground") as in RootPainter. Colours are ``#rrggbb`` per foreground class; classes
without one take RootPainter's red (binary) or Okabe-Ito's colour-blind-safe colours.
"""

from __future__ import annotations

import re

from rptui.store.paths import WorkspaceError, validate_name

MAX_CLASSES = 10  # background + 9 foreground classes: keys 1-9 choose the class to paint
RGB = tuple[int, int, int]
BINARY_FOREGROUND_COLOUR: RGB = (255, 0, 0)  # RootPainter's red
# Okabe-Ito's colour-blind-safe colours (black left out), in order, cycled when needed.
CLASS_COLOURS: tuple[RGB, ...] = (
    (0xE6, 0x9F, 0x00),  # orange
    (0x56, 0xB4, 0xE9),  # sky blue
    (0x00, 0x9E, 0x73),  # bluish green
    (0xF0, 0xE4, 0x42),  # yellow
    (0x00, 0x72, 0xB2),  # blue
    (0xD5, 0x5E, 0x00),  # vermillion
    (0xCC, 0x79, 0xA7),  # reddish purple
)
_HEX_COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")


def validate_classes(classes: object) -> tuple[str, ...]:
    """Class names (background first) if valid, else WorkspaceError saying why.

    Two to ``MAX_CLASSES`` names, each a safe file-name component (they name files and
    columns), unique ignoring case.
    """
    if isinstance(classes, str) or not isinstance(classes, (list, tuple)):
        raise WorkspaceError(f"classes must be a list of names, got {type(classes).__name__}")
    names = tuple(validate_name(name, what="class name") for name in classes)
    if len(names) < 2:
        raise WorkspaceError("a project needs at least two classes (background and one more)")
    if len(names) > MAX_CLASSES:
        raise WorkspaceError(
            f"a project has at most {MAX_CLASSES} classes (background and 9 more, one per "
            f"key 1-9), got {len(names)}"
        )
    seen: set[str] = set()
    for name in names:
        if name.strip() != name or "," in name:
            raise WorkspaceError(f"class name {name!r} must not hold commas or edge spaces")
        if name.lower() in seen:
            raise WorkspaceError(f"class {name!r} is named twice")
        seen.add(name.lower())
    return names


def parse_colour(text: object) -> RGB:
    """``"#rrggbb"`` as an (r, g, b) tuple; ValueError when it is not one."""
    match = _HEX_COLOUR.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"colour must be written #rrggbb, got {text!r}")
    value = int(match.group(1), 16)
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


def format_colour(rgb: RGB) -> str:
    """An (r, g, b) tuple as ``"#rrggbb"``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def validate_colours(colours: object, classes: tuple[str, ...]) -> dict[str, str]:
    """Colours by foreground class name, each ``#rrggbb``; WorkspaceError when not."""
    if not isinstance(colours, dict):
        raise WorkspaceError(f"colours must be a mapping, got {type(colours).__name__}")
    checked: dict[str, str] = {}
    for name, colour in colours.items():
        if name not in classes[1:]:
            raise WorkspaceError(
                f"colour given for {name!r}, which is not a foreground class "
                f"({', '.join(classes[1:])})"
            )
        try:
            checked[name] = format_colour(parse_colour(colour))
        except ValueError as exc:
            raise WorkspaceError(f"class {name!r}: {exc}") from exc
    return checked


def default_class_colours(classes: tuple[str, ...]) -> dict[str, RGB]:
    """The foreground classes' colours when project.json names none.

    Binary: RootPainter's red; more classes: Okabe-Ito's colours in order, cycled.
    """
    if len(classes) == 2:
        return {classes[1]: BINARY_FOREGROUND_COLOUR}
    return {name: CLASS_COLOURS[k % len(CLASS_COLOURS)] for k, name in enumerate(classes[1:])}
