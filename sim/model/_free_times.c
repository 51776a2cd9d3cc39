/* The sift of sim.model.free_times, compiled: when each server of a desk is next free.
 *
 * replace_least(times, until) -> None: times is a list of floats kept as a binary
 * min-heap; its least is replaced by until, which is sifted down to its place, as
 * heapq.heapreplace does, but comparing the floats' doubles in place rather than through
 * Python's object protocol. On equal children either may be taken: a heap's least is the
 * least of its values whatever their arrangement, so the model reads the same times.
 * Built by the normal install when a C compiler is there (setup.py, optional); without
 * one, sim.model.free_times sifts in Python (heapq.heapreplace) and results are the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *replace_least(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyFloat_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "replace_least(times: list of floats, until: float)");
        return NULL;
    }
    PyObject *until = args[1];
    double u = PyFloat_AS_DOUBLE(until);
    Py_ssize_t n = PyList_GET_SIZE(args[0]);
    PyObject **items = ((PyListObject *)args[0])->ob_item;
    if (n == 0) {
        PyErr_SetString(PyExc_IndexError, "replace_least: no servers");
        return NULL;
    }
    PyObject *least = items[0];
    Py_ssize_t at = 0, child = 1;
    while (child < n) {
        PyObject *c = items[child];
        Py_ssize_t right = child + 1;
        if (!PyFloat_CheckExact(c)) goto not_float;
        if (right < n) {
            PyObject *r = items[right];
            if (!PyFloat_CheckExact(r)) goto not_float;
            if (PyFloat_AS_DOUBLE(r) < PyFloat_AS_DOUBLE(c)) {
                c = r;
                child = right;
            }
        }
        if (!(PyFloat_AS_DOUBLE(c) < u)) break;
        items[at] = c; /* moved up: its reference moves with it */
        at = child;
        child = 2 * at + 1;
    }
    Py_INCREF(until);
    items[at] = until;
    Py_DECREF(least); /* the least, replaced (a float: nothing runs when it goes) */
    Py_RETURN_NONE;
not_float:
    /* undo the moves: each slot on the path from the top to ``at`` takes back the time
     * that moved up from it into its parent, and the top its least */
    while (at > 0) {
        Py_ssize_t parent = (at - 1) / 2;
        items[at] = items[parent];
        at = parent;
    }
    items[0] = least;
    PyErr_SetString(PyExc_TypeError, "replace_least: the times must all be floats");
    return NULL;
}

static PyMethodDef methods[] = {
    {"replace_least", (PyCFunction)(void (*)(void))replace_least, METH_FASTCALL,
     "replace_least(times, until) -> None: heapq.heapreplace on a list of floats, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._free_times",
    "The sift of a desk's free times, compiled.", -1, methods,
};

PyMODINIT_FUNC PyInit__free_times(void) { return PyModule_Create(&module); }
