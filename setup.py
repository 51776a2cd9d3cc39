"""The compiled parts of the model, built by the normal install.

- ``sim/model/_keyed.c``: the keyed draw, in C.
- ``sim/model/_blocks.c``: blocks of draws handed out one a call, in C.
- ``sim/model/_free_times.c``: the sift of a desk's free times (a heap of floats), in C.
- ``sim/model/_send.c``: a task's step, a generator resumed without the StopIteration
  of its end, in C.
- ``sim/model/_heap.c``: heapq's push and pop, timed entries compared in C.
- ``sim/model/_later.c``: the clock's events of a later hour, their times unboxed, sorted
  in SimPy's order in C.
- ``sim/engine/_arenas.c``: CPython's small-object arenas served from regions marked for
  transparent huge pages (``sim.engine.hugepages``).
- Every other module of ``sim.model``, and the model's event sink ``sim.results.observer``
  (the list: ``sim/model/_compiled.py``), compiled with mypyc from the typed Python they
  are: the same bits, about 3 times as fast. A wheel built from it needs no compiler on
  the user's machine.

All are optional: where no C compiler is at hand the install goes on without them and the
model runs as Python, which gives the same bits, slower. Everything else is configured in
pyproject.toml.
"""

import json
import runpy
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODEL = Path("sim/model")
build = runpy.run_path(str(MODEL / "_compiled.py"))
compiled = build["COMPILED"]
extensions = [
    Extension("sim.model._keyed", [str(MODEL / "_keyed.c")], optional=True),
    Extension("sim.model._blocks", [str(MODEL / "_blocks.c")], optional=True),
    Extension("sim.model._free_times", [str(MODEL / "_free_times.c")], optional=True),
    Extension("sim.model._send", [str(MODEL / "_send.c")], optional=True),
    Extension("sim.model._heap", [str(MODEL / "_heap.c")], optional=True),
    Extension("sim.model._later", [str(MODEL / "_later.c")], optional=True),
    Extension("sim.engine._arenas", ["sim/engine/_arenas.c"], optional=True),
]
try:
    from mypyc.build import mypycify
except ImportError:  # built without the build requirements (--no-build-isolation)
    pass
else:
    sources = [str(build["source"](name).relative_to(Path.cwd().resolve())) for name in compiled]
    model = mypycify(sources, group_name="chakong")
    for extension in model:
        extension.optional = True
    extensions += model

digests = build["digests"]()  # read now, as mypyc compiles them


class BuildExt(build_ext):
    """Built in place (an editable install): record the sources compiled, so that the
    checkout runs its model as Python, not stale C, once one changes."""

    def initialize_options(self) -> None:
        super().initialize_options()
        self.failed: list[str] = []

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception:  # an optional extension: setuptools warns and goes on
            self.failed.append(ext.name)
            raise

    def run(self) -> None:
        super().run()
        if self.inplace and not self.failed and all(map(build["extension"], compiled)):
            build["BUILT_FROM"].write_text(json.dumps(digests, indent=1), encoding="utf-8")


setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
