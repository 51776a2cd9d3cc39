"""Studies of scenarios: a run, a comparison, a sweep (and its design and sensitivity), the
precision rule, calibration, verification against theory, the demand on the query API.

:mod:`sim.study.settings` resolves the defaults and rules every study shares (one place for
the command line and the Python API), and :mod:`sim.study.skeleton` is the shape every
study that writes a folder takes: run, write the folder atomically, call the caller's finish
hook (the report is built by the caller, not by the study).
"""
