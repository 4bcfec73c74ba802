/* What casyncio keeps out of the cyclic GC, and what puts it back
 * (gcpolicy.c): one unit, so that the rules are in one place.
 *
 * Why: 100k pending tasks or callbacks meant 100-200k more objects for
 * every collection to walk; the collector was a quarter of call_soon's
 * cost and ~45% of gather_100k's.  Two kinds of object are left untracked:
 *
 * 1. Empty Context copies that casyncio makes for tasks and done-callbacks
 *    (ca_context_copy).  An empty context cannot lead back to itself.
 * 2. Handles the loop makes for its own ready queue and timer heap, while
 *    the queue or heap holds them (ca_handle_new(..., queued=1)).
 *
 * The rules, each enforced where named:
 * R1. An untracked context is tracked again before it can be freed
 *     (CPython's Context dealloc unlinks it from the GC lists without
 *     checking it is linked): every reference to one is held by a casyncio
 *     slot (Task.context, a done-callback entry, a ready-queue entry, a
 *     local) and released with ca_context_release().
 * R2. It is exposed (tracked) before it is shown to anything else: a
 *     foreign loop or future, a Handle, _callbacks, get_context()
 *     (ca_context_expose), or before a callback runs in it (context_call
 *     in handle.c).
 * R3. It is settled after code ran in it: a variable's value may refer
 *     back to it, or a Token may hold it (ca_context_settle).
 * R4. Traversals skip untracked contexts (CA_VISIT_CONTEXT): the collector
 *     ignores untracked objects anyway, and gc.get_referents() must not
 *     hand one out.
 * R5. While only the loop holds a queued handle, the loop's traversal
 *     visits what the handle refers to, as if the loop held those itself
 *     (ca_gc_visit_queued).
 * R6. A queued handle that something else also holds (call_later's caller
 *     kept it) is visited as itself, which the collector ignores: what it
 *     refers to counts as reachable.  So that an abandoned loop can still
 *     be collected, a gc.callbacks hook tracks such handles before every
 *     full collection (ca_gc_install_hook): gc.collect() sees them.
 * R7. When the loop lets go of a handle that is still held elsewhere, the
 *     handle is tracked (ca_handle_unqueue). */
#ifndef CA_GCPOLICY_H
#define CA_GCPOLICY_H

#include "state.h"

typedef struct LoopObj LoopObj;  /* loop.h */

/* A copy of the current context; an empty one is left untracked (1). */
PyObject *ca_context_copy(void);

/* len() of a Context through its type's slot: 8 instructions, where
 * PyObject_Size's generic dispatch took 27 (3.13). */
static inline Py_ssize_t
ca_context_len(PyObject *ctx)
{
    return PyContext_Type.tp_as_mapping->mp_length(ctx);
}

/* Only a Context that ca_context_copy() made can be untracked; anything
 * else (a user's context= argument may be any object, even one that is not
 * a GC object) is left alone. */
static inline int
ca_context_is_untracked(PyObject *ctx)
{
    return ctx != NULL && PyContext_CheckExact(ctx) && !PyObject_GC_IsTracked(ctx);
}

static inline void
ca_context_expose(PyObject *ctx)
{
    if (ca_context_is_untracked(ctx)) {
        PyObject_GC_Track(ctx);
    }
}

/* Drops one of casyncio's references; the last one tracks the context
 * first, for its dealloc. */
static inline void
ca_context_release(PyObject *ctx)
{
    if (ctx != NULL) {
        if (Py_REFCNT(ctx) == 1) {
            ca_context_expose(ctx);
        }
        Py_DECREF(ctx);
    }
}

/* After code ran in ctx, of which the caller's slots hold `held`
 * references: a variable's value may refer back to it, and a reference
 * beyond ours was handed out (a Token), so the collector sees it again. */
static inline void
ca_context_settle(PyObject *ctx, Py_ssize_t held)
{
    if (ca_context_is_untracked(ctx)
        && (ca_context_len(ctx) != 0 || Py_REFCNT(ctx) > held)) {
        PyObject_GC_Track(ctx);
    }
}

#define CA_VISIT_CONTEXT(ctx)                                   \
    do {                                                        \
        if ((ctx) != NULL && !ca_context_is_untracked(ctx)) {   \
            Py_VISIT(ctx);                                      \
        }                                                       \
    } while (0)

/* R7: the loop lets go of a queued handle. */
static inline void
ca_handle_unqueue(PyObject *h)
{
    if (Py_REFCNT(h) > 1 && !PyObject_GC_IsTracked(h)) {
        PyObject_GC_Track(h);
    }
}

/* R5, R6: visits a Handle of the ready queue or the timer heap. */
int ca_gc_visit_queued(PyObject *h, visitproc visit, void *arg);
/* The module state's list of live loops, which the hook walks. */
void ca_gc_loop_link(LoopObj *loop);
void ca_gc_loop_unlink(LoopObj *loop);
/* Puts the hook in gc.callbacks unless it is there. */
int ca_gc_install_hook(PyObject *mod);

#endif
