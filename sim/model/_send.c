/* A task's step, compiled: resume a generator without the StopIteration of its end.
 *
 * send(generator, value, done) -> object: what the generator yields next when sent
 * value, or done (the caller's sentinel) when it returns instead. PyIter_Send calls the
 * generator's am_send slot (mypyc's generators and Python's have one), which reports
 * the return as a result, not as an exception: no StopIteration is raised and caught,
 * and no traceback entry is made for it in the compiled caller (mypyc adds one where a
 * call fails, even inside a try). An exception the generator raises propagates.
 * Built by the normal install when a C compiler is there (setup.py, optional); without
 * one, sim.model.clock sends in Python (generator.send, StopIteration caught) and runs
 * are the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *send(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "send(generator, value, done)");
        return NULL;
    }
    PyObject *result = NULL;
    switch (PyIter_Send(args[0], args[1], &result)) {
    case PYGEN_NEXT:
        return result;
    case PYGEN_RETURN:
        Py_XDECREF(result); /* the generator's return value: a task's is not read */
        Py_INCREF(args[2]);
        return args[2];
    default: /* PYGEN_ERROR: the exception is set */
        return NULL;
    }
}

static PyMethodDef methods[] = {
    {"send", (PyCFunction)(void (*)(void))send, METH_FASTCALL,
     "send(generator, value, done) -> what it yields next, or done when it returns."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sim.model._send",
    "A task's step, compiled: a generator resumed without StopIteration.", -1, methods,
};

PyMODINIT_FUNC PyInit__send(void) { return PyModule_Create(&module); }
