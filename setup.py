"""The compiled parts of the model, built by the normal install.

- ``sim/model/_keyed.c``: the keyed draw, in C.
- Every other module of ``sim.model`` (the list: ``sim/model/_compiled.py``), compiled with
  mypyc from the typed Python it is: the same bits, about 1.7 times as fast. A wheel built
  from it needs no compiler on the user's machine.

Both are optional: where no C compiler is at hand the install goes on without them and the
model runs as Python, which gives the same bits, slower. Everything else is configured in
pyproject.toml.
"""

import json
import runpy
from pathlib import Path

from setuptools import Extension, setup

MODEL = Path("sim/model")
build = runpy.run_path(str(MODEL / "_compiled.py"))
compiled = build["COMPILED"]
extensions = [Extension("sim.model._keyed", [str(MODEL / "_keyed.c")], optional=True)]
try:
    from mypyc.build import mypycify
except ImportError:  # built without the build requirements (--no-build-isolation)
    pass
else:
    model = mypycify([str(MODEL / f"{name}.py") for name in compiled], group_name="chakong")
    for extension in model:
        extension.optional = True
    extensions += model
    # what was compiled: a checkout edited since runs its model as Python, not stale C
    build["BUILT_FROM"].write_text(json.dumps(build["digests"](), indent=1), encoding="utf-8")

setup(ext_modules=extensions)
