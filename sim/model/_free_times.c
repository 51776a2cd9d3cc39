/* sim.model.free_times.FreeTimes, compiled: when each server of a desk (an agency's desks,
 * a court's officers) is next free, as a four-way min-heap of doubles in one block of memory.
 *
 * The Python class (sim.model.free_times.FreeTimesPython) keeps a list of float objects
 * sifted by heapq: each time a float of its own, made when a job is booked and freed when
 * the server takes its next one, somewhere in the heap's memory among a run's matters. At a
 * large scale a bank has hundreds of desks; a sift then reads some eight levels of such
 * floats, each its own line of memory, seldom in the cache. Here the times are the
 * doubles themselves, side by side (a bank's 300 desks at scale 0.2 in 2.4 KB), and a job
 * booked makes and frees no object but the float handed back.
 *
 * A heap's least is the least of its times whatever their arrangement, and the least is
 * all the model reads, so the model reads the same times from either class (on equal
 * children either may be taken): tests/sim/test_free_times.py holds the two to heapq.
 * Built by the normal install when a C compiler is there (setup.py, optional); without
 * one, sim.model.free_times gives the Python class and results are the same. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    double *times; /* a min-heap: times[0] the least */
} FreeTimes;

static PyObject *new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Py_ssize_t servers;
    static char *names[] = {"servers", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n:FreeTimes", names, &servers)) return NULL;
    if (servers < 0) {
        PyErr_SetString(PyExc_ValueError, "FreeTimes: servers must not be negative");
        return NULL;
    }
    FreeTimes *self = (FreeTimes *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->times = PyMem_Calloc(servers ? (size_t)servers : 1, sizeof(double)); /* all free at 0 */
    if (self->times == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->n = servers;
    return (PyObject *)self;
}

static void dealloc(FreeTimes *self) {
    PyMem_Free(self->times);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int empty(FreeTimes *self) {
    if (self->n > 0) return 0;
    PyErr_SetString(PyExc_IndexError, "FreeTimes: no servers");
    return 1;
}

/* The least is replaced by u, sifted down to its place. The heap is four-way (the
 * children of i are 4i+1 to 4i+4, side by side): half the levels of a binary heap, each a
 * load that waits for the comparison before it, and a level's four children on one or two
 * lines of memory. The least child is chosen without a branch (which is least is a toss
 * the processor cannot predict). */
static void sift(FreeTimes *self, double u) {
    double *t = self->times;
    Py_ssize_t n = self->n, at = 0, first = 1;
    while (first < n) {
        Py_ssize_t least = first;
        double c = t[first];
        Py_ssize_t end = first + 4 < n ? first + 4 : n;
        for (Py_ssize_t k = first + 1; k < end; k++) {
            int less = t[k] < c;
            least = less ? k : least;
            c = less ? t[k] : c;
        }
        if (!(c < u)) break;
        t[at] = c;
        at = least;
        first = 4 * at + 1;
    }
    t[at] = u;
}

static PyObject *least(FreeTimes *self, PyObject *unused) {
    if (empty(self)) return NULL;
    return PyFloat_FromDouble(self->times[0]);
}

static PyObject *replace_least(FreeTimes *self, PyObject *until) {
    double u = PyFloat_AsDouble(until);
    if (u == -1.0 && PyErr_Occurred()) return NULL;
    if (empty(self)) return NULL;
    sift(self, u);
    Py_RETURN_NONE;
}

/* serve(ready, duration) -> the job's end: it starts when the server free first is free,
 * or at ready if that is later, and runs for duration; that server is busy until then. */
static PyObject *serve(FreeTimes *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "serve(ready, duration) takes two numbers");
        return NULL;
    }
    double ready = PyFloat_AsDouble(args[0]);
    if (ready == -1.0 && PyErr_Occurred()) return NULL;
    double duration = PyFloat_AsDouble(args[1]);
    if (duration == -1.0 && PyErr_Occurred()) return NULL;
    if (empty(self)) return NULL;
    double free = self->times[0];
    double done = (ready > free ? ready : free) + duration;
    sift(self, done);
    return PyFloat_FromDouble(done);
}

static PyObject *get_times(FreeTimes *self, void *closure) {
    PyObject *list = PyList_New(self->n);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < self->n; i++) {
        PyObject *x = PyFloat_FromDouble(self->times[i]);
        if (x == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, x);
    }
    return list;
}

static Py_ssize_t length(FreeTimes *self) { return self->n; }

static PyMethodDef methods[] = {
    {"least", (PyCFunction)least, METH_NOARGS, "When the server free first is free."},
    {"replace_least", (PyCFunction)replace_least, METH_O,
     "The server free first is busy until the time given: sift it down to its place."},
    {"serve", (PyCFunction)(void (*)(void))serve, METH_FASTCALL,
     "serve(ready, duration) -> end: a job no sooner than ready, on the server free first."},
    {NULL, NULL, 0, NULL},
};

static PyObject *get_arity(FreeTimes *self, void *closure) { return PyLong_FromLong(4); }

static PyGetSetDef getset[] = {
    {"times", (getter)get_times, NULL, "The times, in the heap's order (a new list).", NULL},
    {"arity", (getter)get_arity, NULL, "Children a time has in the heap: 4.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods sequence = {.sq_length = (lenfunc)length};

static PyTypeObject FreeTimesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sim.model._free_times.FreeTimes",
    .tp_basicsize = sizeof(FreeTimes),
    .tp_dealloc = (destructor)dealloc,
    .tp_as_sequence = &sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "FreeTimes(servers): when each server is next free (all at 0 at first), least "
              "first, as doubles side by side.",
    .tp_methods = methods,
    .tp_getset = getset,
    .tp_new = new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._free_times",
    "A desk's free times as a heap of doubles, compiled.", -1, NULL,
};

PyMODINIT_FUNC PyInit__free_times(void) {
    if (PyType_Ready(&FreeTimesType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&FreeTimesType);
    if (PyModule_AddObject(m, "FreeTimes", (PyObject *)&FreeTimesType) < 0) {
        Py_DECREF(&FreeTimesType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
