/* The events the clock holds for one later hour, their times unboxed.
 *
 * Later() is what sim.model.clock's _Later is in Python: the events scheduled for a later
 * hour of simulated time, in the order scheduled, with their times, and the priorities of
 * the few that are not NORMAL. Here a time is a double beside its event (16 bytes an
 * event waiting), not a float object of its own that a list points to (some 48 bytes,
 * and a line of memory more to read, days or months later, when the hour comes).
 *
 *   add(later, t, event)    the event at time t (a float), after those already there
 *   later.prioritise(p)     the next event added has SimPy priority p, not NORMAL
 *   later.in_order()        (events, times, priorities or None) as new lists, in the order
 *                           SimPy's queue gives them: by time, then priority, then order
 *                           of scheduling; None where a time is NaN (Python's sort gives
 *                           that order: later.columns())
 *   later.first_time()      the least time (inf if empty; None where a time is NaN)
 *   later.columns()         (times, events, {position: priority}), as scheduled
 *   take_due(due, i)        due[i] (an hour's events in order, a list), None left in its
 *                           place; the events some places on asked of memory meanwhile
 *
 * Built by the normal install when a C compiler is there (setup.py, optional); without
 * one, the clock uses _Later, with the same results.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double t;
    PyObject *event;
} entry;

typedef struct {
    PyObject_HEAD
    Py_ssize_t n, cap;
    entry *entries;
    PyObject *priorities; /* position -> priority (a dict), or NULL: all NORMAL */
    long next_priority;   /* for the next event added (NORMAL: none pending) */
    int has_next_priority;
} Later;

static PyTypeObject LaterType;

static PyObject *later_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Later() takes no arguments");
        return NULL;
    }
    Later *self = PyObject_GC_New(Later, type);
    if (self == NULL) return NULL;
    self->n = self->cap = 0;
    self->entries = NULL;
    self->priorities = NULL;
    self->has_next_priority = 0;
    self->next_priority = 0;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int later_traverse(Later *self, visitproc visit, void *arg) {
    for (Py_ssize_t k = 0; k < self->n; k++) Py_VISIT(self->entries[k].event);
    Py_VISIT(self->priorities);
    return 0;
}

static int later_clear(Later *self) {
    Py_ssize_t n = self->n;
    self->n = 0;
    for (Py_ssize_t k = 0; k < n; k++) Py_CLEAR(self->entries[k].event);
    Py_CLEAR(self->priorities);
    return 0;
}

static void later_dealloc(Later *self) {
    PyObject_GC_UnTrack(self);
    later_clear(self);
    PyMem_Free(self->entries);
    PyObject_GC_Del(self);
}

static PyObject *add(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || Py_TYPE(args[0]) != &LaterType) {
        PyErr_SetString(PyExc_TypeError, "add(later: Later, t: float, event)");
        return NULL;
    }
    Later *self = (Later *)args[0];
    double t = PyFloat_CheckExact(args[1]) ? PyFloat_AS_DOUBLE(args[1])
                                           : PyFloat_AsDouble(args[1]);
    if (t == -1.0 && PyErr_Occurred()) return NULL;
    if (self->n == self->cap) {
        Py_ssize_t cap = self->cap ? 2 * self->cap : 4;
        entry *grown = PyMem_Realloc(self->entries, (size_t)cap * sizeof(entry));
        if (grown == NULL) return PyErr_NoMemory();
        self->entries = grown;
        self->cap = cap;
    }
    if (self->has_next_priority) {
        if (self->priorities == NULL && (self->priorities = PyDict_New()) == NULL) return NULL;
        PyObject *key = PyLong_FromSsize_t(self->n);
        PyObject *value = PyLong_FromLong(self->next_priority);
        int failed = key == NULL || value == NULL ||
                     PyDict_SetItem(self->priorities, key, value) < 0;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (failed) return NULL;
        self->has_next_priority = 0;
    }
    Py_INCREF(args[2]);
    self->entries[self->n].t = t;
    self->entries[self->n].event = args[2];
    self->n++;
    Py_RETURN_NONE;
}

static PyObject *prioritise(Later *self, PyObject *priority) {
    long p = PyLong_AsLong(priority);
    if (p == -1 && PyErr_Occurred()) return NULL;
    self->next_priority = p;
    self->has_next_priority = 1;
    Py_RETURN_NONE;
}

typedef struct {
    double t;
    long priority;
    Py_ssize_t k;
} key;

static int by_time_priority_place(const void *a, const void *b) {
    const key *x = a, *y = b;
    if (x->t < y->t) return -1;
    if (y->t < x->t) return 1;
    if (x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k); /* the order scheduled */
}

/* A time's bits as an unsigned number in the times' order: the sign bit flipped for a
 * time of at least 0, every bit for one below; -0 as 0, which the order counts equal. */
static uint64_t order_bits(double t) {
    if (t == 0.0) t = 0.0;
    uint64_t u;
    memcpy(&u, &t, sizeof u);
    return (u >> 63) ? ~u : (u | ((uint64_t)1 << 63));
}

typedef struct {
    uint64_t bits;
    Py_ssize_t k;
} radix_key;

/* Fill keys[j].k with the positions in the order of time, and of scheduling among equal
 * times, as qsort with by_time_priority_place gives when every priority is NORMAL: a
 * stable sort of the times' bits, a byte a pass, least significant first (passes where
 * every time has the same byte, as the high bytes of one hour's times mostly are, are
 * skipped). Its work a time is the same however many share the hour, where a comparison
 * sort's grows with the hour's events (some 1,100 at scale 0.2 of the national scenario,
 * 60 at 0.01). 0 on success, -1 with an exception set. */
#define RADIX_MIN 256 /* below it, qsort: the counts cost more than the comparisons */
static int radix_order(const entry *e, Py_ssize_t n, key *keys) {
    radix_key *a = PyMem_Malloc((size_t)n * 2 * sizeof(radix_key));
    if (a == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    radix_key *b = a + n;
    Py_ssize_t count[8][256]; /* 16 KB */
    memset(count, 0, sizeof count);
    for (Py_ssize_t k = 0; k < n; k++) {
        uint64_t bits = order_bits(e[k].t);
        a[k].bits = bits;
        a[k].k = k;
        for (int d = 0; d < 8; d++) count[d][(bits >> (8 * d)) & 255]++;
    }
    for (int d = 0; d < 8; d++) {
        Py_ssize_t *c = count[d];
        if (c[(a[0].bits >> (8 * d)) & 255] == n) continue; /* one byte for all */
        Py_ssize_t at = 0;
        for (int v = 0; v < 256; v++) {
            Py_ssize_t m = c[v];
            c[v] = at;
            at += m;
        }
        for (Py_ssize_t j = 0; j < n; j++) b[c[(a[j].bits >> (8 * d)) & 255]++] = a[j];
        radix_key *swap = a;
        a = b;
        b = swap;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        keys[j].t = e[a[j].k].t;
        keys[j].k = a[j].k;
        keys[j].priority = 1;
    }
    PyMem_Free(a < b ? a : b); /* the block both halves are in */
    return 0;
}

/* the priority of the event at position k (NORMAL: 1, as SimPy's) */
static int priority_of(Later *self, Py_ssize_t k, long *out) {
    *out = 1;
    if (self->priorities == NULL) return 0;
    PyObject *position = PyLong_FromSsize_t(k);
    if (position == NULL) return -1;
    PyObject *p = PyDict_GetItemWithError(self->priorities, position);
    Py_DECREF(position);
    if (p == NULL) return PyErr_Occurred() ? -1 : 0;
    *out = PyLong_AsLong(p);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *in_order(Later *self, PyObject *unused) {
    Py_ssize_t n = self->n;
    entry *e = self->entries;
    int sorted = 1;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (isnan(e[k].t)) Py_RETURN_NONE; /* Python's sort gives that order */
        if (k && e[k].t < e[k - 1].t) sorted = 0;
    }
    int prioritised = self->priorities != NULL && PyDict_GET_SIZE(self->priorities) > 0;
    key *keys = NULL;
    if (!sorted || prioritised) {
        keys = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(key));
        if (keys == NULL) return PyErr_NoMemory();
        if (!prioritised && n >= RADIX_MIN) {
            if (radix_order(e, n, keys) < 0) {
                PyMem_Free(keys);
                return NULL;
            }
        } else {
            for (Py_ssize_t k = 0; k < n; k++) {
                keys[k].t = e[k].t;
                keys[k].k = k;
                if (priority_of(self, k, &keys[k].priority) < 0) {
                    PyMem_Free(keys);
                    return NULL;
                }
            }
            qsort(keys, (size_t)n, sizeof(key), by_time_priority_place); /* a total order */
        }
    }
    PyObject *events = PyList_New(n), *times = PyList_New(n);
    PyObject *priorities = prioritised ? PyList_New(n) : (Py_INCREF(Py_None), Py_None);
    if (events == NULL || times == NULL || priorities == NULL) goto fail;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t k = keys ? keys[j].k : j;
        PyObject *t = PyFloat_FromDouble(e[k].t);
        if (t == NULL) goto fail;
        PyList_SET_ITEM(times, j, t);
        if (prioritised) {
            PyObject *p = PyLong_FromLong(keys[j].priority);
            if (p == NULL) goto fail;
            PyList_SET_ITEM(priorities, j, p);
        }
    }
    /* the events move to the list, their references with them: the hour is empty now */
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t k = keys ? keys[j].k : j;
        PyList_SET_ITEM(events, j, e[k].event);
    }
    self->n = 0;
    PyMem_Free(keys);
    return Py_BuildValue("(NNN)", events, times, priorities);
fail:
    PyMem_Free(keys);
    Py_XDECREF(events);
    Py_XDECREF(times);
    Py_XDECREF(priorities);
    return NULL;
}

static PyObject *first_time(Later *self, PyObject *unused) {
    double least = INFINITY;
    for (Py_ssize_t k = 0; k < self->n; k++) {
        double t = self->entries[k].t;
        if (isnan(t)) Py_RETURN_NONE; /* min() over the times gives it: columns() */
        if (t < least) least = t;
    }
    return PyFloat_FromDouble(least);
}

static PyObject *columns(Later *self, PyObject *unused) {
    PyObject *times = PyList_New(self->n), *events = PyList_New(self->n);
    PyObject *priorities = self->priorities ? PyDict_Copy(self->priorities) : PyDict_New();
    if (times == NULL || events == NULL || priorities == NULL) goto fail;
    for (Py_ssize_t k = 0; k < self->n; k++) {
        PyObject *t = PyFloat_FromDouble(self->entries[k].t);
        if (t == NULL) goto fail;
        PyList_SET_ITEM(times, k, t);
        Py_INCREF(self->entries[k].event);
        PyList_SET_ITEM(events, k, self->entries[k].event);
    }
    return Py_BuildValue("(NNN)", times, events, priorities);
fail:
    Py_XDECREF(times);
    Py_XDECREF(events);
    Py_XDECREF(priorities);
    return NULL;
}

static Py_ssize_t later_length(Later *self) { return self->n; }

static PySequenceMethods later_as_sequence = {.sq_length = (lenfunc)later_length};

static PyMethodDef later_methods[] = {
    {"prioritise", (PyCFunction)prioritise, METH_O,
     "prioritise(p): the next event added has SimPy priority p."},
    {"in_order", (PyCFunction)in_order, METH_NOARGS,
     "in_order() -> (events, times, priorities or None), in SimPy's order; None on a NaN."},
    {"first_time", (PyCFunction)first_time, METH_NOARGS, "first_time() -> the least time."},
    {"columns", (PyCFunction)columns, METH_NOARGS,
     "columns() -> (times, events, {position: priority}), as scheduled."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LaterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sim.model._later.Later",
    .tp_basicsize = sizeof(Later),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The events of one later hour, their times unboxed.",
    .tp_new = later_new,
    .tp_dealloc = (destructor)later_dealloc,
    .tp_traverse = (traverseproc)later_traverse,
    .tp_clear = (inquiry)later_clear,
    .tp_methods = later_methods,
    .tp_as_sequence = &later_as_sequence,
};

/* take_due(due, i) -> due[i], which is left None: the clock's step takes the hour's next
 * event so. The events of an hour were scheduled hours, days or months before, each an
 * object of its own seldom still in the cache; the first lines of the one TAKE_AHEAD
 * places on are asked for now, so that memory brings them while the events between are
 * processed (the same events in the same order: a prefetch changes no value). The three
 * lines from its start hold what the step reads first (its type, its callbacks) and a
 * matter's first 20 fields. National scenario at scale 0.1, whole runs in turn
 * (2026-12-05): 8 places on took 0.978 times the time of none, 16 about 0.985 times 8, 32
 * no better than 16; five lines, a matter's whole record (its stage and world at bytes
 * 216 and 240), no better than three. Asking for what an event points to as well (five
 * levels, 50 places on) was tried at an earlier stop and gained nothing: following the
 * pointers costs what the prefetch saves. */
#define TAKE_AHEAD 16
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif
static PyObject *take_due(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyLong_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "take_due(due: list, i: int)");
        return NULL;
    }
    PyListObject *due = (PyListObject *)args[0];
    Py_ssize_t i = PyLong_AsSsize_t(args[1]), n = PyList_GET_SIZE(due);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0 || i >= n) {
        PyErr_SetString(PyExc_IndexError, "take_due: no such event");
        return NULL;
    }
    if (i + TAKE_AHEAD < n) {
        const char *ahead = (const char *)due->ob_item[i + TAKE_AHEAD];
        PREFETCH(ahead);
        PREFETCH(ahead + 64);
        PREFETCH(ahead + 128);
    }
    PyObject *event = due->ob_item[i]; /* its reference moves to the caller */
    Py_INCREF(Py_None);
    due->ob_item[i] = Py_None;
    return event;
}

static PyMethodDef methods[] = {
    {"add", (PyCFunction)(void (*)(void))add, METH_FASTCALL,
     "add(later, t, event): the event at time t, after those already there."},
    {"take_due", (PyCFunction)(void (*)(void))take_due, METH_FASTCALL,
     "take_due(due, i) -> due[i], leaving None in its place."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._later",
    "The events the clock holds for one later hour, their times unboxed.", -1, methods,
};

PyMODINIT_FUNC PyInit__later(void) {
    if (PyType_Ready(&LaterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&LaterType);
    if (PyModule_AddObject(m, "Later", (PyObject *)&LaterType) < 0) {
        Py_DECREF(&LaterType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
