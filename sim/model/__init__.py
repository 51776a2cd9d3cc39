"""The SimPy model of one replication: the world, its cases and one module per mechanism;
the model emits a typed stream of events (:mod:`sim.model.events`) and collects no
statistics itself."""
