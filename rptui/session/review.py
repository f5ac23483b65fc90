"""The review session without any UI: where the user is, what they painted, what to save.

The terminal app and ``rptui bench`` both drive a :class:`ReviewSession`. It is made of
parts, each in its own module and each reachable as an attribute: the item on screen
(``viewer``, :mod:`rptui.session.view`), the brush (``brush``, :mod:`rptui.session.paint`),
which image comes next (``order``, :mod:`rptui.session.serve_order`), the segmentation
requests (``presegmenter``, :mod:`rptui.session.preseg`) and Enter's saving (``saver``,
:mod:`rptui.session.accept`). The status line is a function of them
(:func:`rptui.session.status.status_line`). The session itself moves: accept, skip,
previous, go to, and the order mode. Talking to the backend is
:class:`rptui.session.link.BackendLink`'s.

In a writable project the session holds a lease on the item on screen
(:mod:`rptui.store.leases`), so other apps annotating the project are served other
images; it opens on the first item no other app holds. An item another app holds can
still be looked at (P, G): :attr:`ReviewSession.held_by` names its holder, and nothing
is saved for it here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from cluster.api import AnnotatedImage
from cluster.io.image_limits import ImageReadError
from cluster.io.images import read_image
from cluster.io.stacks import parse_slice_name
from rptui.session.accept import Saver
from rptui.session.order import SEQUENTIAL
from rptui.session.paint import Brush
from rptui.session.preseg import PreSegmenter
from rptui.session.serve_order import ServeOrder
from rptui.session.view import Clock, ImageLoader, Viewer
from rptui.store.leases import LeaseInfo
from rptui.store.paths import WorkspaceError
from rptui.store.project import Project

log = logging.getLogger(__name__)


class ReviewSession:
    """The user's place in ``project``, the image on screen and its annotation.

    ``image_loader`` and ``clock`` are how the viewer reads images and times the user's
    work on each (see :class:`~rptui.session.view.Viewer`).
    """

    def __init__(
        self,
        project: Project,
        *,
        image_loader: ImageLoader = read_image,
        clock: Clock = time.monotonic,
    ) -> None:
        self.project = project
        self.viewer = Viewer(project, image_loader=image_loader, clock=clock)
        self.order = ServeOrder(project, self.viewer.index)
        self.brush = Brush(project, self.viewer)
        self.presegmenter = PreSegmenter(project, self.viewer, self.order)
        self.saver = Saver(project, self.viewer)
        self.held_by: LeaseInfo | None = None  # another app's lease on the item on screen
        self._hold()
        if self.held_by is not None:  # another app works on where this one left off
            self._move(self.order.next_index(self.viewer.index))

    # -- moving -------------------------------------------------------------------------
    def accept(self) -> list[AnnotatedImage]:
        """Enter: save what was painted (every visited slice), mark the item reviewed and
        move on; returns the annotations saved, for the trainer. Nothing is saved for an
        item another app holds (:attr:`held_by`)."""
        shown_version = self.viewer.segmentation_version
        if self.held_by is not None:
            self._hold()  # its holder may have moved on since
        items = self.saver.save_item() if self.held_by is None else []
        self._move(self.order.next_index(self.viewer.index, shown_version=shown_version))
        return items

    def skip(self) -> None:
        """Next image without saving."""
        view = self.viewer
        self._move(self.order.next_index(view.index, shown_version=view.segmentation_version))

    def previous(self) -> None:
        """The image before: in the fixed order, or the one served before (uncertain order)."""
        index = self.order.previous_index(self.viewer.index)
        if self.order.mode == SEQUENTIAL:
            self._move(index)
        else:
            self.viewer.show(index)
            self._hold()  # another app may have taken it since it was served here

    def _move(self, index: int) -> None:
        self.viewer.show(index)
        self.order.served(self.viewer.index)
        self._hold()

    def _hold(self) -> None:
        """Lease the item on screen, giving back the one held before; :attr:`held_by`
        names another app holding it."""
        leases = self.project.leases
        self.held_by = None
        if leases is None:
            return
        stem = self.viewer.stem
        try:
            if not leases.keep_only(stem):
                self.held_by = leases.holder(stem)
        except (OSError, WorkspaceError) as error:
            log.warning("could not lease %s: %s", stem, error)

    def keep_lease(self) -> None:
        """Renew the lease on the item on screen (call it often; it renews now and then)."""
        try:
            self.project.refresh_lock()
        except (OSError, WorkspaceError) as error:
            log.warning("could not renew the image lease: %s", error)

    def find(self, query: str) -> int:
        """The index for a 1-based number, a stem or a file name; WorkspaceError if none."""
        text = query.strip()
        if text.isdigit():
            number = int(text)
            if 1 <= number <= len(self.project):
                return number - 1
            raise WorkspaceError(f"image {number} is not in 1..{len(self.project)}")
        return self.project.index_of(Path(text).stem)

    def goto(self, query: str) -> None:
        """Show the image named by ``query`` (see :meth:`find`), or a stack slice's name
        such as ``scan.z0003`` (that slice)."""
        text = query.strip()
        if parse_slice_name(text) is None:
            self._move(self.find(text))
            return
        try:
            index, z = self.project.locate(text)
        except ImageReadError as error:
            raise WorkspaceError(str(error)) from error
        self._move(index)
        self.viewer.show_slice(z)

    # -- the order images are served in (see rptui.session.serve_order) -------------------
    def set_order(self, mode: str) -> None:
        """Choose the order mode; kept in the project's settings."""
        self.order.set_mode(mode)
        self.save_settings()

    def toggle_order(self) -> str:
        """Switch between the two order modes; returns the new one."""
        self.set_order(self.order.toggled())
        return self.order.mode

    def save_settings(self) -> None:
        """Write the project's settings (brush sizes and the rest) if writable."""
        if not self.project.read_only:
            self.project.save_config()
