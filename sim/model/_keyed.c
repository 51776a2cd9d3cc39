/* The keyed draw of sim.model.streams, compiled: the same splitmix64 chain, the same bits.
 *
 * keyed_uniform(seed, *keys) -> float: _mix(seed mod 2**64), then for each key
 * _mix((z + key * golden + 1) mod 2**64), and the top 53 bits as a uniform on [0, 1).
 * Python ints of any size and sign are taken modulo 2**64, as the Python chain's masks do,
 * so the two agree for every input (tests/sim/test_distributions.py holds them to it).
 * to_fen(yuan) -> int: a sum in whole fen, rounded as Python rounds (sim.model.settlement).
 * Built by the normal install when a C compiler is there (setup.py, optional); without
 * one, sim.model.streams.compiled_or gives the Python functions and results are the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

static inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline int as_u64(PyObject *o, uint64_t *out) {
    unsigned long long v = PyLong_AsUnsignedLongLongMask(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    *out = (uint64_t)v;
    return 0;
}

static PyObject *keyed_uniform(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "keyed_uniform() needs a seed");
        return NULL;
    }
    uint64_t z, k;
    if (as_u64(args[0], &z) < 0) return NULL;
    z = mix(z);
    for (Py_ssize_t i = 1; i < nargs; i++) {
        if (as_u64(args[i], &k) < 0) return NULL;
        z = mix(z + k * 0x9E3779B97F4A7C15ULL + 1);
    }
    return PyFloat_FromDouble((double)(z >> 11) * (1.0 / 9007199254740992.0));
}

/* to_fen(yuan) -> int: round(yuan * 100) as Python rounds a float, half to even: the
 * steps of CPython's float.__round__ without ndigits (Objects/floatobject.c), so the same
 * int for every float, and the same errors for infinities and NaN. */
static PyObject *to_fen(PyObject *self, PyObject *yuan) {
    (void)self;
    double x = PyFloat_AsDouble(yuan);
    if (x == -1.0 && PyErr_Occurred()) return NULL;
    x *= 100.0;
    double rounded = round(x);
    if (fabs(x - rounded) == 0.5) rounded = 2.0 * round(x / 2.0);
    return PyLong_FromDouble(rounded);
}

static PyMethodDef methods[] = {
    {"keyed_uniform", (PyCFunction)(void (*)(void))keyed_uniform, METH_FASTCALL,
     "keyed_uniform(seed, *keys) -> float: the keyed draw of sim.model.streams, compiled."},
    {"to_fen", (PyCFunction)to_fen, METH_O,
     "to_fen(yuan) -> int: round(yuan * 100), as sim.model.settlement rounds, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._keyed",
    "The keyed draw and the rounding to fen, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__keyed(void) { return PyModule_Create(&module); }
