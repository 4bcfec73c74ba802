/* Binary min-heap of timers; see timerheap.h.  No Python objects here:
 * functions return 0 or -errno. */
#include "timerheap.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* NaN deadlines sort first, so such a timer is due at once, as a NaN
 * deadline is in stock asyncio (its comparisons with NaN are all false). */
static inline int
timerheap_less(const ca_timer_node *a, const ca_timer_node *b)
{
    double wa = isnan(a->when) ? -INFINITY : a->when;
    double wb = isnan(b->when) ? -INFINITY : b->when;
    if (wa != wb) {
        return wa < wb;
    }
    return a->seq < b->seq;
}

static void
timerheap_sift_up(ca_timerheap *h, size_t i)
{
    ca_timer_node node = h->nodes[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timerheap_less(&node, &h->nodes[parent])) {
            break;
        }
        h->nodes[i] = h->nodes[parent];
        i = parent;
    }
    h->nodes[i] = node;
}

static void
timerheap_sift_down(ca_timerheap *h, size_t i)
{
    ca_timer_node node = h->nodes[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len) {
            break;
        }
        if (child + 1 < h->len
            && timerheap_less(&h->nodes[child + 1], &h->nodes[child])) {
            child++;
        }
        if (!timerheap_less(&h->nodes[child], &node)) {
            break;
        }
        h->nodes[i] = h->nodes[child];
        i = child;
    }
    h->nodes[i] = node;
}

int
ca_timerheap_push(ca_timerheap *h, double when, uint64_t seq, void *timer)
{
    if (h->len == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        ca_timer_node *n = realloc(h->nodes, ncap * sizeof(*n));
        if (n == NULL) {
            return -ENOMEM;
        }
        h->nodes = n;
        h->cap = ncap;
    }
    h->nodes[h->len] = (ca_timer_node){when, seq, timer};
    timerheap_sift_up(h, h->len);
    h->len++;
    return 0;
}

void
ca_timerheap_pop(ca_timerheap *h, ca_timer_node *out)
{
    *out = h->nodes[0];
    h->len--;
    if (h->len > 0) {
        h->nodes[0] = h->nodes[h->len];
        timerheap_sift_down(h, 0);
    }
}

void
ca_timerheap_heapify(ca_timerheap *h)
{
    for (size_t i = h->len / 2; i-- > 0;) {
        timerheap_sift_down(h, i);
    }
}

void
ca_timerheap_free(ca_timerheap *h)
{
    free(h->nodes);
    h->nodes = NULL;
    h->len = h->cap = 0;
}
