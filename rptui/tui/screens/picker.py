"""The project picker: list the workspace's projects, open, create or import one."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from rptui.errors import user_error_types
from rptui.store.project import Project
from rptui.store.workspace import ProjectSummary, Workspace
from rptui.tui.screens.goto import PromptScreen


def describe(summary: ProjectSummary) -> str:
    """One line about a project."""
    if summary.error:
        return f"{summary.name}  (unreadable: {summary.error})"
    text = (
        f"{summary.name}  {summary.dataset} · {summary.n_images} images · "
        f"{summary.n_annotated} annotated · {summary.n_models} models"
    )
    if summary.locked_by is not None:
        text += " · open elsewhere"
    return text


def _refusals() -> tuple[type[BaseException], ...]:
    """What making or importing a project raises when the input or the disk refuses it."""
    return (*user_error_types(), OSError)


class ProjectPickerScreen(Screen[None]):
    """Choose a project; Enter opens it, C creates one, I imports a RootPainter project."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "create", "Create", id="picker.create"),
        Binding("i", "import_project", "Import RootPainter", id="picker.import"),
        Binding("question_mark", "app.help", "Keys", key_display="?", id="picker.help"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        """A title, the projects and the footer."""
        yield Label(f"Projects in {self.workspace.root}", classes="title")
        yield OptionList(id="projects")
        yield Footer()

    def on_mount(self) -> None:
        """Fill the list."""
        self.reload()

    def reload(self) -> None:
        """List the projects again."""
        options = self.query_one(OptionList)
        options.clear_options()
        summaries = self.workspace.list_projects()
        for summary in summaries:
            options.add_option(Option(describe(summary), id=summary.name))
        if not summaries:
            options.add_option(Option("no projects yet: press C to create one", disabled=True))
        else:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#projects")
    def _open(self, event: OptionList.OptionSelected) -> None:
        name = event.option.id
        if name is None:
            return
        try:
            project = self.workspace.open_project(name)
        except user_error_types() as error:
            self.notify(str(error), severity="error")
            return
        self._opened(project)

    def _opened(self, project: Project) -> None:
        open_project = getattr(self.app, "open_project", None)
        if open_project is not None:
            open_project(project)

    def action_create(self) -> None:
        """Ask for a name, a dataset and an optional starting model, then create."""
        datasets = self.workspace.list_datasets()
        answers: dict[str, str | None] = {}

        def got_model(model: str | None) -> None:
            try:
                project = self.workspace.create_project(
                    str(answers["name"]), str(answers["dataset"]), start_model=model
                )
            except _refusals() as error:
                self.notify(str(error), severity="error")
                return
            self._opened(project)

        def got_dataset(dataset: str | None) -> None:
            if not dataset:
                return
            answers["dataset"] = dataset
            self.app.push_screen(
                PromptScreen(
                    "Starting model: a model file or starter:roots, a model trained on "
                    "thin roots (empty: random weights)"
                ),
                got_model,
            )

        def got_name(name: str | None) -> None:
            if not name:
                return
            answers["name"] = name
            choices = ", ".join(datasets) or "none found"
            self.app.push_screen(PromptScreen(f"Dataset ({choices})"), got_dataset)

        self.app.push_screen(PromptScreen("New project name"), got_name)

    def action_import_project(self) -> None:
        """Ask for a RootPainter .seg_proj file and open it."""

        def got_path(path: str | None) -> None:
            if not path:
                return
            try:
                project = self.workspace.import_rootpainter(path)
            except _refusals() as error:
                self.notify(str(error), severity="error")
                return
            self._opened(project)

        self.app.push_screen(PromptScreen("RootPainter project file (.seg_proj)"), got_path)
