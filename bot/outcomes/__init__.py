"""The outcome report (issue 6): what the programme achieved for a municipality's participants, from stored data.

`spec` says what is measured (from the programme file and the published thresholds), `build` computes the
figures (`participation`, `change`, `adherence`, `safety`), `figures` flattens them with labels for the
locale, and `text`, `tables` and `html` write them out. docs/outcomes.md defines every figure.
"""
