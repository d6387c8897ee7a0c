"""`python -m shugu` runs the CLI."""

from shugu.cli import main

main()
