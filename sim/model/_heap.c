/* heapq's push and pop, compiled, for the model's heaps of timed entries.
 *
 * heappush(heap, item) and heappop(heap) are CPython's own (Modules/_heapqmodule.c: the
 * same sifts, the same moves), with one change: where both items compared are floats,
 * or tuples whose first items are floats, and those floats differ, the order is read
 * from their doubles in place. That is the order Python's `<` gives (a tuple's order is
 * its first differing item's, and distinct floats differ there); equal floats, NaNs and
 * everything else are compared by Python's `<`, as heapq does. So every heap holds and
 * gives what heapq's would, item for item; the model's entries (a time first, then
 * integers that break ties) are compared without Python's object protocol, some 100
 * instructions a comparison in CPython 3.11. Built by the normal install when a C
 * compiler is there (setup.py, optional); without one, the model uses heapq, with the
 * same results.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* a < b: 1, 0, or -1 with an exception set */
static inline int less(PyObject *a, PyObject *b) {
    PyObject *x = a, *y = b;
    if (PyTuple_CheckExact(a) && PyTuple_CheckExact(b) && PyTuple_GET_SIZE(a) > 0 &&
        PyTuple_GET_SIZE(b) > 0) {
        x = PyTuple_GET_ITEM(a, 0);
        y = PyTuple_GET_ITEM(b, 0);
    }
    if (PyFloat_CheckExact(x) && PyFloat_CheckExact(y)) {
        double u = PyFloat_AS_DOUBLE(x), v = PyFloat_AS_DOUBLE(y);
        if (u < v) return 1;
        if (v < u) return 0;
    }
    Py_INCREF(a);
    Py_INCREF(b);
    int cmp = PyObject_RichCompareBool(a, b, Py_LT);
    Py_DECREF(b);
    Py_DECREF(a);
    return cmp;
}

static int siftdown(PyListObject *heap, Py_ssize_t startpos, Py_ssize_t pos) {
    Py_ssize_t size = PyList_GET_SIZE(heap);
    if (pos >= size) {
        PyErr_SetString(PyExc_IndexError, "index out of range");
        return -1;
    }
    PyObject **arr = heap->ob_item;
    PyObject *newitem = arr[pos];
    while (pos > startpos) {
        Py_ssize_t parentpos = (pos - 1) >> 1;
        int cmp = less(newitem, arr[parentpos]);
        if (cmp < 0) return -1;
        if (size != PyList_GET_SIZE(heap)) {
            PyErr_SetString(PyExc_RuntimeError, "list changed size during iteration");
            return -1;
        }
        if (cmp == 0) break;
        arr = heap->ob_item;
        PyObject *parent = arr[parentpos];
        newitem = arr[pos];
        arr[parentpos] = newitem;
        arr[pos] = parent;
        pos = parentpos;
    }
    return 0;
}

static int siftup(PyListObject *heap, Py_ssize_t pos) {
    Py_ssize_t endpos = PyList_GET_SIZE(heap), startpos = pos;
    if (pos >= endpos) {
        PyErr_SetString(PyExc_IndexError, "index out of range");
        return -1;
    }
    PyObject **arr = heap->ob_item;
    Py_ssize_t limit = endpos >> 1; /* the least position with no child */
    while (pos < limit) {
        Py_ssize_t childpos = 2 * pos + 1; /* the smaller child's */
        if (childpos + 1 < endpos) {
            int cmp = less(arr[childpos], arr[childpos + 1]);
            if (cmp < 0) return -1;
            childpos += ((unsigned)cmp ^ 1); /* the right one unless the left is less */
            arr = heap->ob_item;
            if (endpos != PyList_GET_SIZE(heap)) {
                PyErr_SetString(PyExc_RuntimeError, "list changed size during iteration");
                return -1;
            }
        }
        PyObject *child = arr[childpos];
        arr[childpos] = arr[pos];
        arr[pos] = child;
        pos = childpos;
    }
    return siftdown(heap, startpos, pos); /* up to its place */
}

static PyObject *heappush(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "heappush(heap: list, item)");
        return NULL;
    }
    PyObject *heap = args[0];
    if (PyList_Append(heap, args[1])) return NULL;
    if (siftdown((PyListObject *)heap, 0, PyList_GET_SIZE(heap) - 1)) return NULL;
    Py_RETURN_NONE;
}

static PyObject *heappop(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 1 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "heappop(heap: list)");
        return NULL;
    }
    PyObject *heap = args[0];
    Py_ssize_t n = PyList_GET_SIZE(heap);
    if (n == 0) {
        PyErr_SetString(PyExc_IndexError, "index out of range");
        return NULL;
    }
    PyObject *last = PyList_GET_ITEM(heap, n - 1); /* the list's reference, taken */
    Py_SET_SIZE(heap, n - 1); /* (heapq deletes the slice: the same, less work) */
    if (n == 1) return last;
    PyObject *item = PyList_GET_ITEM(heap, 0);
    PyList_SET_ITEM(heap, 0, last); /* the reference moves from the list to the caller */
    if (siftup((PyListObject *)heap, 0)) {
        Py_DECREF(item);
        return NULL;
    }
    return item;
}

static PyMethodDef methods[] = {
    {"heappush", (PyCFunction)(void (*)(void))heappush, METH_FASTCALL,
     "heappush(heap, item) -> None: heapq.heappush, timed entries compared in C."},
    {"heappop", (PyCFunction)(void (*)(void))heappop, METH_FASTCALL,
     "heappop(heap) -> item: heapq.heappop, timed entries compared in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._heap",
    "heapq's push and pop, timed entries compared in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__heap(void) { return PyModule_Create(&module); }
