"""`python -m charrnn` runs the CLI."""

from charrnn.interface.cli import main

main()
