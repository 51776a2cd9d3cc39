"""chakong simulation: scenario files, SimPy model, statistics and reports."""

__version__ = "0.1.0"
