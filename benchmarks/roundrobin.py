"""The floor of task stepping: coroutines driven by a bare C round-robin.

`build()` writes out a tiny C extension, compiles it against the running
Python's headers with the system C compiler and imports it; its one function
`run(coros)` sends None into each coroutine in turn with `PyIter_Send` (the
public API a Task's step is built on) until all have returned, and gives back
their return values in order. A coroutine that yields anything but a bare
None (what `asyncio.sleep(0)` yields on every implementation) fails the run.
There is no loop, no Task, no Future and no callback queue: what is left is
the cost of resuming the coroutines themselves, which is what an event loop
adds its overhead to. `workloads.py` uses it as the `limit` of `sleep0`.

The build is cached in the temporary directory under a name made from the C
source and the interpreter, so the many child processes of run.py compile it
once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

MODULE = "_casyncio_roundrobin"

SOURCE = r"""
/* A bare round-robin over coroutines: the floor the sleep0 workload is
 * measured against (benchmarks/roundrobin.py says why it exists). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* One pass: resume every live coroutine once, in order; compact `live` to
 * the ones still running and store the return values of those that ended.
 * Returns the new number of live coroutines, or -1 with an exception. */
static Py_ssize_t
rr_pass(PyObject *coros, PyObject *results, Py_ssize_t *live, Py_ssize_t n)
{
    Py_ssize_t kept = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = live[j];
        PyObject *value = NULL;
        PySendResult r = PyIter_Send(PyList_GET_ITEM(coros, i), Py_None, &value);
        if (r == PYGEN_ERROR) {
            return -1;
        }
        if (r == PYGEN_RETURN) {
            /* Steals the reference; replaces the None placeholder. */
            PyList_SetItem(results, i, value);
            continue;
        }
        if (value != Py_None) {
            PyErr_Format(PyExc_RuntimeError,
                         "coroutine %zd yielded %R, expected a bare None",
                         i, value);
            Py_DECREF(value);
            return -1;
        }
        Py_DECREF(value);
        live[kept++] = i;
    }
    return kept;
}

static PyObject *
rr_run(PyObject *module, PyObject *arg)
{
    PyObject *coros = NULL, *results = NULL;
    Py_ssize_t *live = NULL;

    /* Our own list: the caller cannot change it under us. */
    coros = PySequence_List(arg);
    if (coros == NULL) {
        goto error;
    }
    Py_ssize_t n = PyList_GET_SIZE(coros);
    results = PyList_New(n);
    live = PyMem_Malloc((n ? n : 1) * sizeof(*live));
    if (results == NULL || live == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyList_SET_ITEM(results, i, Py_NewRef(Py_None));
        live[i] = i;
    }
    while (n > 0) {
        n = rr_pass(coros, results, live, n);
        if (n < 0) {
            goto error;
        }
    }
    PyMem_Free(live);
    Py_DECREF(coros);
    return results;

error:
    /* Unfinished coroutines are closed when the list lets go of them. */
    PyMem_Free(live);
    Py_XDECREF(coros);
    Py_XDECREF(results);
    return NULL;
}

static PyMethodDef rr_methods[] = {
    {"run", rr_run, METH_O,
     "run($module, coros, /)\n--\n\n"
     "Resume each coroutine in turn until all return; their results."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot rr_slots[] = {
    {0, NULL},
};

static struct PyModuleDef rr_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_casyncio_roundrobin",
    .m_doc = "A bare C round-robin over coroutines (a benchmark floor).",
    .m_size = 0,
    .m_methods = rr_methods,
    .m_slots = rr_slots,
};

PyMODINIT_FUNC
PyInit__casyncio_roundrobin(void)
{
    return PyModuleDef_Init(&rr_module);
}
"""


class BuildError(Exception):
    """No compiler, no Python headers, or the compile failed."""


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def _target() -> Path:
    key = hashlib.sha256(
        "\0".join([SOURCE, sys.version, sys.executable]).encode()
    ).hexdigest()[:16]
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    cache = Path(tempfile.gettempdir()) / f"casyncio-bench-{os.getuid()}"
    return cache / f"{MODULE}-{key}{suffix}"


def _compile(target: Path) -> None:
    cc = compiler()
    if not cc:
        raise BuildError("no C compiler (cc) found")
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        raise BuildError(f"no Python.h in {include}")
    target.parent.mkdir(mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / f"{MODULE}.c"
        out = Path(tmp) / target.name
        src.write_text(SOURCE, encoding="utf-8")
        cmd = [cc, "-O2", "-shared", "-fPIC", f"-I{include}", "-o", str(out), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"{cc} failed: {proc.stderr.strip()[-300:]}")
        # Atomic: a concurrent run sees the old file or the whole new one.
        os.replace(out, target)


def build():
    """The compiled round-robin module (built on first use); BuildError
    if it cannot be built here."""
    if MODULE in sys.modules:
        return sys.modules[MODULE]
    target = _target()
    if not target.exists():
        _compile(target)
    spec = importlib.util.spec_from_file_location(MODULE, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[MODULE] = module
    return module
