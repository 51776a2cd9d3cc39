/* Python's small-object arenas on transparent huge pages.

CPython's allocator (pymalloc) takes memory from the system in arenas of 1 MiB, each its
own mmap. A national replication keeps hundreds of megabytes of small objects (open
matters, their waits and draws) and touches them in no order: with 4 KiB pages almost
every such touch also misses the TLB, and the cost of a matter grows with the size of the
run. Linux backs 2 MiB-aligned stretches of memory with huge pages when it is told to
(madvise MADV_HUGEPAGE, honoured when transparent_hugepage is "always" or "madvise").

``install()`` puts an arena allocator in front of Python's: it reserves regions of 64 MiB,
aligned to 2 MiB, marks them for huge pages and hands out arenas from them; arenas given
back are kept for reuse. Arenas made before it was installed are given back to the
allocator that made them. Nothing about the objects changes: only where their memory
lies. Where huge pages are not available, the memory is ordinary memory. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <sys/mman.h>

#define HUGE ((size_t)2 << 20)
#define REGION ((size_t)64 << 20)
#define MAX_REGIONS 8192 /* 512 GiB */

static PyObjectArenaAllocator previous;
static int installed = 0;
static int advised = 0; /* madvise(MADV_HUGEPAGE) succeeded on a region */

static char *regions[MAX_REGIONS];
static size_t n_regions = 0;
static char *region_end = NULL;   /* end of the region arenas are carved from */
static char *region_next = NULL;  /* next arena there */
static void **spare = NULL;       /* arenas given back, for reuse (a stack) */
static size_t n_spare = 0, cap_spare = 0;
static size_t arena_size = 0;     /* pymalloc's, read at the first call */

static int
new_region(void)
{
    if (n_regions == MAX_REGIONS) {
        return -1;
    }
    size_t span = REGION + HUGE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        return -1;
    }
    char *base = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (base > raw) {
        munmap(raw, (size_t)(base - raw));
    }
    char *end = base + REGION;
    if (raw + span > end) {
        munmap(end, (size_t)(raw + span - end));
    }
#ifdef MADV_HUGEPAGE
    if (madvise(base, REGION, MADV_HUGEPAGE) == 0) {
        advised = 1;
    }
#endif
    regions[n_regions++] = base;
    region_next = base;
    region_end = end;
    return 0;
}

static int
ours(void *ptr)
{
    for (size_t i = n_regions; i-- > 0;) {
        if ((char *)ptr >= regions[i] && (char *)ptr < regions[i] + REGION) {
            return 1;
        }
    }
    return 0;
}

static void *
arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (arena_size == 0) {
        arena_size = size;
    }
    if (size != arena_size || REGION % size != 0) {
        return previous.alloc(previous.ctx, size);
    }
    if (n_spare > 0) {
        return spare[--n_spare];
    }
    if (region_next == NULL || region_next == region_end) {
        if (new_region() < 0) {
            return previous.alloc(previous.ctx, size);
        }
    }
    void *arena = region_next;
    region_next += size;
    return arena;
}

static void
arena_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (ptr == NULL) {
        return;
    }
    if (!ours(ptr)) {
        previous.free(previous.ctx, ptr, size);
        return;
    }
    if (n_spare == cap_spare) {
        size_t cap = cap_spare ? 2 * cap_spare : 64;
        void **grown = realloc(spare, cap * sizeof(void *));
        if (grown == NULL) {
            /* keep it reserved, unused: a spare we cannot note (never seen in practice) */
            return;
        }
        spare = grown;
        cap_spare = cap;
    }
    spare[n_spare++] = ptr;
}

static PyObject *
install(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (!installed) {
        PyObject_GetArenaAllocator(&previous);
        PyObjectArenaAllocator mine = {NULL, arena_alloc, arena_free};
        PyObject_SetArenaAllocator(&mine);
        installed = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *
status(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return Py_BuildValue(
        "{s:O,s:O,s:n,s:n}",
        "installed", installed ? Py_True : Py_False,
        "advised", advised ? Py_True : Py_False,
        "regions", (Py_ssize_t)n_regions,
        "spare_arenas", (Py_ssize_t)n_spare);
}

static PyMethodDef methods[] = {
    {"install", install, METH_NOARGS,
     "Serve Python's small-object arenas from 2 MiB-aligned regions marked for huge pages."},
    {"status", status, METH_NOARGS,
     "Whether installed, whether the kernel took the huge-page advice, regions reserved."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_arenas", "Python's small-object arenas on huge pages.", -1, methods,
};

PyMODINIT_FUNC
PyInit__arenas(void)
{
    return PyModule_Create(&module);
}
