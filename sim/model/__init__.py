"""The SimPy model of one replication: the world, its cases and one module per mechanism;
the model emits a typed stream of events (:mod:`sim.model.events`) and collects no
statistics itself."""

from sim.model._compiled import prefer_sources

prefer_sources()  # CHAKONG_INTERPRETED=1, or sources edited since the compiled build
