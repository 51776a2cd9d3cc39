"""What a run gives: the metric catalogue, streaming statistics and intervals, the event
and case records and their CSV files, and the results folder (written whole or not at all).

Imports :mod:`sim.model` (the events it records) and :mod:`sim.scenario`, never what runs
the model (:mod:`sim.engine`) or what studies it (:mod:`sim.study`).
"""
