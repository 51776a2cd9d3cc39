"""What runs the model: one replication (:mod:`sim.engine.replication`), groups of them
in replication order (:mod:`sim.engine.runner`), on this machine or a Dask cluster
(:mod:`sim.engine.executors`), and the benchmarks (:mod:`sim.engine.bench`,
:mod:`sim.engine.national_bench`)."""
