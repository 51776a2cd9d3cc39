/* sim.model.streams.Blocks, compiled: successive values, drawn ``block`` at a time by
 * ``draw(block)`` and handed out one a call; the first block drawn at the first call, each
 * next one when the last is used up.
 *
 * The Python class (sim.model.streams.BlocksPython, compiled by mypyc) is called through
 * Python's call protocol (mypyc calls an instance so, whatever its class) and reads its
 * packed block through the sequence protocol: some 250 machine instructions a value.
 * This type is called by vectorcall and reads the block's memory directly: a value of a
 * packed block of doubles (array('d')) or of int64 (array('q')) is made from its bytes,
 * a value of a list is the list's own object. The same values, in the same order, from
 * the same draws (tests/sim/test_distributions.py holds the two to each other).
 * Built by the normal install when a C compiler is there (setup.py, optional); without
 * one, sim.model.streams.compiled_or gives the Python class and results are the same. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <string.h>

enum kind { EMPTY, DOUBLES, INT64S, LIST };

/* What a call reads comes first, beside the object's header (which the call reads too):
 * a national run keeps some 1,700 of these and calls each at moments far apart, so each
 * call's cost is mostly the cache lines it brings back; the rest (read when a block is
 * drawn) comes after. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    const char *buf;  /* the current block's memory (view.buf), for DOUBLES and INT64S */
    Py_ssize_t next, length;
    enum kind kind;
    PyObject *values; /* the current block */
    PyObject *draw;   /* draw(block) -> a block of values */
    PyObject *block;  /* the block size, as the int draw is given */
    Py_buffer view;   /* the current block's memory */
} Blocks;

static void release(Blocks *self) {
    if (self->kind == DOUBLES || self->kind == INT64S) PyBuffer_Release(&self->view);
    self->kind = EMPTY;
    self->buf = NULL;
    Py_CLEAR(self->values);
    self->next = self->length = 0;
}

/* Draw the next block; 0 on success, -1 with an exception set. */
static int refill(Blocks *self) {
    PyObject *values = PyObject_CallOneArg(self->draw, self->block);
    if (values == NULL) return -1;
    release(self);
    self->values = values;
    if (PyList_CheckExact(values)) {
        self->kind = LIST;
        self->length = PyList_GET_SIZE(values);
    } else if (PyObject_CheckBuffer(values)) {
        if (PyObject_GetBuffer(values, &self->view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
            return -1;
        const char *f = self->view.format ? self->view.format : "B";
        if (f[0] == '@' || f[0] == '=' || f[0] == '<') f++;
        if (strcmp(f, "d") == 0 && self->view.itemsize == sizeof(double)) {
            self->kind = DOUBLES;
        } else if (strcmp(f, "q") == 0 && self->view.itemsize == sizeof(long long)) {
            self->kind = INT64S;
        } else {
            PyBuffer_Release(&self->view);
            PyErr_Format(PyExc_TypeError, "Blocks: a block of format '%s' (not d or q)", f);
            return -1;
        }
        self->length = self->view.len / self->view.itemsize;
        self->buf = (const char *)self->view.buf;
    } else {
        PyErr_Format(PyExc_TypeError, "Blocks: draw gave %.100s, not a list or an array",
                     Py_TYPE(values)->tp_name);
        return -1;
    }
    self->next = 0;
    return 0;
}

static PyObject *take(Blocks *self) {
    if (self->next == self->length || self->kind == EMPTY) {
        if (refill(self) < 0) return NULL;
    }
    Py_ssize_t i = self->next;
    if (i >= self->length) {
        PyErr_SetString(PyExc_IndexError, "Blocks: draw gave an empty block");
        return NULL;
    }
    self->next = i + 1;
    switch (self->kind) {
    case DOUBLES:
        return PyFloat_FromDouble(((const double *)self->buf)[i]);
    case INT64S:
        return PyLong_FromLongLong(((const long long *)self->buf)[i]);
    default: {
        PyObject *v = PyList_GET_ITEM(self->values, i);
        Py_INCREF(v);
        return v;
    }
    }
}

static PyObject *blocks_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames) {
    (void)args;
    if (PyVectorcall_NARGS(nargsf) != 0 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "Blocks() takes no arguments");
        return NULL;
    }
    return take((Blocks *)self);
}

static PyObject *blocks_next(PyObject *self, PyObject *unused) {
    (void)unused;
    return take((Blocks *)self);
}

static PyObject *blocks_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"draw", "block", NULL};
    PyObject *draw, *block;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO!:Blocks", names, &draw, &PyLong_Type,
                                     &block))
        return NULL;
    Blocks *self = (Blocks *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = blocks_vectorcall;
    Py_INCREF(draw);
    self->draw = draw;
    Py_INCREF(block);
    self->block = block;
    self->values = NULL;
    self->buf = NULL;
    self->kind = EMPTY;
    self->next = self->length = 0;
    return (PyObject *)self;
}

static int blocks_traverse(Blocks *self, visitproc visit, void *arg) {
    Py_VISIT(self->draw);
    Py_VISIT(self->values);
    return 0;
}

static int blocks_clear(Blocks *self) {
    release(self);
    Py_CLEAR(self->draw);
    Py_CLEAR(self->block);
    return 0;
}

static void blocks_dealloc(Blocks *self) {
    PyObject_GC_UnTrack(self);
    blocks_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef blocks_methods[] = {
    {"next", blocks_next, METH_NOARGS, "next() -> the next value (as calling the instance)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BlocksType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sim.model._blocks.Blocks",
    .tp_doc = "Blocks(draw, block): successive values drawn block at a time (compiled).",
    .tp_basicsize = sizeof(Blocks),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = blocks_new,
    .tp_dealloc = (destructor)blocks_dealloc,
    .tp_traverse = (traverseproc)blocks_traverse,
    .tp_clear = (inquiry)blocks_clear,
    .tp_vectorcall_offset = offsetof(Blocks, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_methods = blocks_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._blocks",
    "Blocks of draws handed out one a call, compiled.", -1, NULL,
};

PyMODINIT_FUNC PyInit__blocks(void) {
    if (PyType_Ready(&BlocksType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&BlocksType);
    if (PyModule_AddObject(m, "Blocks", (PyObject *)&BlocksType) < 0) {
        Py_DECREF(&BlocksType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
