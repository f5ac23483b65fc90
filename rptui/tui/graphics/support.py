"""What the terminal can show: the graphics path, its cell size in pixels, and tmux."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rptui.tui.graphics.tmux import TmuxPane

GraphicsPath = Literal["kitty", "sixel", "halfblocks"]
GRAPHICS_PATHS: tuple[GraphicsPath, ...] = ("kitty", "sixel", "halfblocks")
HALF_BLOCKS: GraphicsPath = "halfblocks"


@dataclass(frozen=True)
class CellSize:
    """A terminal cell in device pixels."""

    width: int
    height: int


DEFAULT_CELL = CellSize(10, 20)  # when the terminal does not say (a common font size)


@dataclass(frozen=True)
class GraphicsSupport:
    """The graphics path the canvas uses, and what it needs to draw there.

    Attributes:
        path: ``kitty`` (Kitty graphics protocol), ``sixel`` or ``halfblocks`` (text only).
        cell: a cell's size in device pixels (true-pixel paths draw at this resolution).
        cell_measured: the terminal reported ``cell`` (else it is a guess).
        tmux: the tmux pane the app runs in, when graphics pass through tmux.
        reason: why this path was chosen, for ``rptui doctor``.
    """

    path: GraphicsPath = HALF_BLOCKS
    cell: CellSize = DEFAULT_CELL
    cell_measured: bool = False
    tmux: TmuxPane | None = None
    reason: str = "the default"

    @property
    def true_pixels(self) -> bool:
        """The canvas draws device pixels (Kitty or Sixel), not half blocks."""
        return self.path != HALF_BLOCKS

    def describe(self) -> str:
        """One line: the path, the cell size and why."""
        if not self.true_pixels:
            return f"graphics: half blocks (two pixels per cell): {self.reason}"
        measured = "reported" if self.cell_measured else "assumed"
        where = " through tmux" if self.tmux is not None else ""
        cell = f"{self.cell.width}x{self.cell.height} px cells ({measured})"
        return f"graphics: {self.path}{where}, true pixels, {cell}: {self.reason}"


TEXT_ONLY = GraphicsSupport()
