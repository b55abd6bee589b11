"""The live progress bar and the terminal tables (rich)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .report import LEGEND, Report, ceiling_table, machine_lines, notes, scaling_table, suite_table


def _rich() -> Any:
    try:
        import rich.console
    except ImportError:
        raise ImportError(
            "kernelkit bench draws its progress bar and tables with rich: pip install rich "
            "(or pip install 'kernelkit[bench]', which installs every peer too)"
        ) from None
    return rich


@dataclass
class ProgressHooks:
    """What the runner calls: ``advance`` after each timed series, ``status`` for each step."""

    progress: Any
    task: Any

    def advance(self, _: str) -> None:
        self.progress.advance(self.task)

    def status(self, text: str) -> None:
        self.progress.update(self.task, description=text)
        if not self.progress.console.is_terminal:  # no live bar in a log: one line a step
            self.progress.console.print(text, highlight=False)


@contextmanager
def progress_bar(total: int) -> Iterator[ProgressHooks]:
    """A progress bar on stderr (the tables go to stdout), removed when the run ends."""
    _rich()
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("{task.description:<48}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield ProgressHooks(progress, progress.add_task("starting", total=total))


def warn(lines: Sequence[str]) -> None:
    """Warnings to stderr before the run starts."""
    rich = _rich()
    console = rich.console.Console(stderr=True)
    for line in lines:
        console.print(f"[bold yellow]WARNING:[/] {line}", highlight=False, soft_wrap=True)


def _table(title: str, titles: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, name in enumerate(titles):
        table.add_column(name, justify="left" if index < 3 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def print_report(report: Report, file: Any = None) -> None:
    """The machine, the ceilings, each suite's table (per thread count) and the scaling."""
    rich = _rich()
    console = rich.console.Console(file=file or sys.stdout, width=200)
    for line in machine_lines(report):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(_table("Ceilings", *ceiling_table(report.ceilings)))
    for suite in report.plan.suites:
        for threads in report.plan.threads:
            results = report.suite_results(suite, threads)
            console.print(
                _table(f"{suite.title}, {threads} thread(s)", *suite_table(suite, results))
            )
            for line in notes(report, results):
                console.print(f"  {line}", highlight=False, soft_wrap=True)
    if len(report.plan.threads) > 1:
        console.print(_table("Thread scaling (kernelkit)", *scaling_table(report)))
    console.print(LEGEND, highlight=False, soft_wrap=True)
