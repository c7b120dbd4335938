"""The command line: `paperwire --help` lists every command; each background job is also a command here.

Commands live in one module per concern (catalogue, search, mail, live sources, operations); this
module builds the one Typer application and hands each command the Settings.

Start-up is kept short (`paperwire --help` reads no settings and opens no database): the command modules
import SQLAlchemy, Alembic, torch, tantivy, httpx … inside the commands that use them.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from paperwire.settings import Settings

LONG_RUNNING = {"serve", "worker", "demo"}
# These work with bad settings (invalid values replaced by defaults): they are how an operator finds out.
LENIENT = {"config", "status"}

app = typer.Typer(
    name="paperwire",
    help="paperwire: every day's papers, trending, hybrid search and email digests, self-hosted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's Markdown renderer alone costs ~0.1 s of start-up
)


@app.callback()
def main_options(
    ctx: typer.Context,
    config_file: Path | None = typer.Option(None, "--config", help="TOML file with settings", exists=True),
    home: Path | None = typer.Option(None, "--home", help="data directory (PAPERWIRE_HOME)"),
) -> None:
    from paperwire.logs import configure_logging
    from paperwire.settings import Settings, SettingsError

    settings, problems = Settings.load_checked(config_file, home=home)
    if problems and ctx.invoked_subcommand not in LENIENT:
        typer.echo(str(SettingsError(problems)) + "\n(`paperwire config --check` lists every problem)", err=True)
        raise typer.Exit(2)
    if ctx.invoked_subcommand in LONG_RUNNING:
        try:
            settings.check_secret_key()
        except SettingsError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(2) from error
    ctx.obj = settings
    ctx.meta["settings_problems"] = problems
    # Long-running processes log what they do; one-shot commands only warnings (their output is the report).
    configure_logging(ctx.obj, "INFO" if ctx.invoked_subcommand in LONG_RUNNING else "WARNING")


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj


def settings_problems(ctx: typer.Context) -> list[str]:
    """What was wrong with the settings (only LENIENT commands run despite problems)."""
    return list(ctx.find_root().meta.get("settings_problems", []))


def register_commands() -> None:
    # Imported for their side effect of adding commands to `app`.
    from paperwire.cli import (
        catalogue,  # noqa: F401
        library,  # noqa: F401
        live,  # noqa: F401
        mail,  # noqa: F401
        ops,  # noqa: F401
        search,  # noqa: F401
        social,  # noqa: F401
    )


# True in the `paperwire` program's own process (main); False where a caller invokes `app` in its process (tests).
OWN_PROCESS = False


def settle() -> None:
    """Freeze what start-up has loaded, in the program's own process: it lives until exit, so the collector
    need not walk it at every full collection or at exit (≈ 0.15 s of a 27k-paper import's 2.3 s, in an A/B of
    bench/ingest.py's command; unfreezing after the import kept only a fifth of that). A caller's process
    keeps its collector as it was."""
    if OWN_PROCESS:
        gc.freeze()


def main() -> None:
    global OWN_PROCESS
    OWN_PROCESS = True
    register_commands()
    app()
