"""The `shugu` command-line interface (Typer): thin commands over the hub API."""

from shugu.cli.app import app


def main() -> None:
    """Entry point of the `shugu` console script."""
    app()


__all__ = ["app", "main"]
