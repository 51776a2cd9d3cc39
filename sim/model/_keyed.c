/* The keyed draw of sim.model.streams, compiled: the same splitmix64 chain, the same bits.
 *
 * keyed_uniform(seed, *keys) -> float: _mix(seed mod 2**64), then for each key
 * _mix((z + key * golden + 1) mod 2**64), and the top 53 bits as a uniform on [0, 1).
 * Python ints of any size and sign are taken modulo 2**64, as the Python chain's masks do,
 * so the two agree for every input (tests/sim/test_distributions.py holds them to it).
 * to_fen(yuan) -> int: a sum in whole fen, rounded as Python rounds (sim.model.settlement).
 * round_yuan(yuan) -> float: a sum in yuan rounded to whole fen, as round(yuan, 2) rounds.
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
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
    /* CPython 3.11's ints: |ob_size| digits of 30 bits, the sign in ob_size's. A
     * non-negative one's low 64 bits are those of its first three digits (a later digit
     * counts 2**90 and more), read in place: PyLong_AsUnsignedLongLongMask walks every
     * digit (the keys and seeds are held above 2**64: three digits) */
    if (PyLong_CheckExact(o) && Py_SIZE(o) >= 0) {
        Py_ssize_t size = Py_SIZE(o);
        const digit *d = ((PyLongObject *)o)->ob_digit;
        uint64_t v = size > 0 ? (uint64_t)d[0] : 0;
        if (size > 1) v |= (uint64_t)d[1] << 30;
        if (size > 2) v |= (uint64_t)d[2] << 60;
        *out = v;
        return 0;
    }
#endif
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

/* round_yuan(yuan) -> float: round(yuan, 2), a sum in yuan to whole fen, the same float as
 * CPython's float.__round__ gives (Objects/floatobject.c: the decimal digits correctly
 * rounded, half to even, from the exact binary value, then read back), without its
 * formatting and parsing. Worked on |yuan|, as rounding is symmetric:
 * - y = |yuan| * 100 is the exact product p rounded, so |p - y| <= ulp(y) / 2; below 2**52
 *   the fraction y - floor(y) is exact and a multiple of ulp(y) <= 1/2, so a fraction
 *   other than a half puts p on the same side of the half as y: the nearest integer k is
 *   floor(y) or floor(y) + 1 by the fraction alone;
 * - at a fraction of exactly a half, the sign of the product's exact rest, fma(|yuan|,
 *   100, -y), says which side p is on (a rest of 0 is an exact tie: to even);
 * - k / 100 is then the double nearest the decimal k / 100 (one correctly rounded
 *   division), which is what reading the digits back gives.
 * Anything else (not a float, not finite, or 2**52 fen and more) goes to round itself. */
static PyObject *round_yuan(PyObject *self, PyObject *yuan) {
    (void)self;
    if (PyFloat_CheckExact(yuan)) {
        double x = PyFloat_AS_DOUBLE(yuan);
        double a = fabs(x);
        double y = a * 100.0;
        if (y < 4503599627370496.0) { /* 2**52; false for inf and NaN */
            double k = floor(y);
            double frac = y - k;
            if (frac > 0.5) {
                k += 1.0;
            } else if (frac == 0.5) {
                double rest = fma(a, 100.0, -y);
                if (rest > 0.0 || (rest == 0.0 && fmod(k, 2.0) == 1.0)) k += 1.0;
            }
            return PyFloat_FromDouble(copysign(k / 100.0, x));
        }
    }
    PyObject *round = PyDict_GetItemString(PyEval_GetBuiltins(), "round"); /* borrowed */
    if (round == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "round_yuan: no builtin round");
        return NULL;
    }
    return PyObject_CallFunction(round, "Oi", yuan, 2);
}

static PyMethodDef methods[] = {
    {"keyed_uniform", (PyCFunction)(void (*)(void))keyed_uniform, METH_FASTCALL,
     "keyed_uniform(seed, *keys) -> float: the keyed draw of sim.model.streams, compiled."},
    {"to_fen", (PyCFunction)to_fen, METH_O,
     "to_fen(yuan) -> int: round(yuan * 100), as sim.model.settlement rounds, compiled."},
    {"round_yuan", (PyCFunction)round_yuan, METH_O,
     "round_yuan(yuan) -> float: round(yuan, 2), as sim.model.settlement rounds, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._keyed",
    "The keyed draw and the rounding to fen, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__keyed(void) { return PyModule_Create(&module); }
