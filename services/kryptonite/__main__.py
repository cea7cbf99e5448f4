"""``python -m kryptonite`` runs the CLI."""

from kryptonite.cli import main

main()
