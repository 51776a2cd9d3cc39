"""The compiled keyed draw (sim/model/_keyed.c), built by the normal install.

Optional: where no C compiler is at hand the install goes on without it, and
``sim.model.streams`` uses its Python chain, which gives the same bits. Everything else
is configured in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("sim.model._keyed", ["sim/model/_keyed.c"], optional=True)])
