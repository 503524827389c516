"""Interface: what a person sees. Imports every layer below; nothing imports it.

    cli.py        the Typer app: the commands, parsing options and calling the library
    display.py    progress, tables, errors (the only module that imports Rich)
    plot.py       training curves of one or more runs to a PNG (matplotlib)
"""
