"""The command line: `paperwire --help` lists every command; each background job is also a command here.

Commands live in one module per concern (catalogue, search, mail, live sources, operations); this
module builds the one Typer application and hands each command the Settings.
"""

from __future__ import annotations

from pathlib import Path

import typer

from paperwire.logs import configure_logging
from paperwire.settings import Settings

LONG_RUNNING = {"serve", "worker", "demo"}

app = typer.Typer(
    name="paperwire",
    help="paperwire: every day's papers, trending, hybrid search and email digests, self-hosted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    config_file: Path | None = typer.Option(None, "--config", help="TOML file with settings", exists=True),
    home: Path | None = typer.Option(None, "--home", help="data directory (PAPERWIRE_HOME)"),
) -> None:
    ctx.obj = Settings.load(config_file, home=home)
    # Long-running processes log what they do; one-shot commands only warnings (their output is the report).
    configure_logging(ctx.obj, "INFO" if ctx.invoked_subcommand in LONG_RUNNING else "WARNING")


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj


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


def main() -> None:
    register_commands()
    app()
