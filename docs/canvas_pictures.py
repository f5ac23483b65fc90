"""Pictures of the annotate screen's canvas in each graphics path, as a terminal shows them.

Run: ``.venv/bin/python docs/canvas_pictures.py`` (writes ``docs/canvas-*.png``).

The app runs headless (Textual's Pilot, 100x30 cells of 10x20 pixels) on a generated root
image with a segmentation and a few painted strokes. For Kitty and Sixel the pictures the
app writes are decoded as a graphics terminal would (the tests' pretend terminal); for
half blocks each cell is drawn as its upper and lower colour.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "rptui_tests"))

from terminal_pictures import PretendTerminal  # noqa: E402

from cluster.simulate.synthetic import write_dataset  # noqa: E402
from rptui.store.workspace import Workspace  # noqa: E402
from rptui.tui.app import RptuiApp  # noqa: E402
from rptui.tui.canvas.widget import AnnotationCanvas  # noqa: E402
from rptui.tui.graphics.hub import GraphicsHub  # noqa: E402
from rptui.tui.graphics.support import CellSize, GraphicsPath, GraphicsSupport  # noqa: E402

COLUMNS, ROWS = 100, 30
CELL = CellSize(10, 20)
IMAGE_SIDE = 600


def half_block_pixels(canvas: AnnotationCanvas) -> np.ndarray:
    """The canvas's text lines as a terminal draws them: "▀" = upper colour over lower."""
    lines = []
    for y in range(canvas.size.height):
        row = np.zeros((CELL.height, canvas.size.width * CELL.width, 3), np.uint8)
        x = 0
        for segment in canvas.render_line(y):
            style = segment.style
            assert style is not None and style.bgcolor is not None
            lower = style.bgcolor.get_truecolor()
            upper = style.color.get_truecolor() if style.color is not None else lower
            for _ in segment.text:
                left = x * CELL.width
                row[: CELL.height // 2, left : left + CELL.width] = tuple(upper)
                row[CELL.height // 2 :, left : left + CELL.width] = tuple(lower)
                x += 1
        lines.append(row)
    return np.concatenate(lines)


async def picture(workspace: Workspace, path: GraphicsPath) -> np.ndarray:
    written: list[str] = []
    hub = GraphicsHub(GraphicsSupport(path, CELL, cell_measured=True), write=written.append)
    app = RptuiApp(workspace, project=workspace.open_project("roots"), graphics=hub)
    async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
        canvas = app.screen.query_one(AnnotationCanvas)
        await pilot.pause()
        truth = np.asarray(Image.open(next((workspace.root / "truth").iterdir())))
        canvas.set_segmentation((truth > 0).astype(np.uint8))
        await pilot.press("d", *["right"] * 6, "d", "w", *["down"] * 4, "space")
        await pilot.pause(0.2)
        if path == "halfblocks":
            return half_block_pixels(canvas)
        terminal = PretendTerminal(COLUMNS, ROWS, (CELL.width, CELL.height))
        terminal.feed("".join(written))
        region = canvas.content_region
        return terminal.screen()[
            region.y * CELL.height : (region.y + region.height) * CELL.height,
            region.x * CELL.width : (region.x + region.width) * CELL.width,
        ]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws").ensure()
        write_dataset(
            workspace.dataset_dir("roots"),
            count=1,
            seed=3,
            height=IMAGE_SIDE,
            width=IMAGE_SIDE,
            masks_folder=workspace.root / "truth",
        )
        workspace.create_project("roots", "roots", seed=0).close()
        for path in ("halfblocks", "kitty", "sixel"):
            pixels = asyncio.run(picture(workspace, path))
            out = ROOT / "docs" / f"canvas-{path}.png"
            Image.fromarray(pixels).save(out, optimize=True)
            print(f"{out.relative_to(ROOT)}: {pixels.shape[1]}x{pixels.shape[0]} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
