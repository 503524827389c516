"""`python -m charrnn` runs the CLI."""

from charrnn.cli import main

main()
