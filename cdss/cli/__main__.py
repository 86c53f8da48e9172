"""`python -m cdss.cli`: the same command as `cdss`."""

from cdss.cli import main

main()
