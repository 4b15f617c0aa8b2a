"""The administrators' commands (`stressbot COMMAND`, `python -m bot COMMAND`): one module per command group.

`main.py` builds the parser from the modules' `add_parser` functions and runs the handler the chosen command
names. The running app never imports this package: the commands use the app, not the other way round.
"""
