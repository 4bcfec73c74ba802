/* A binary min-heap of timers ordered by (when, seq).
 *
 * Owns: the array of nodes.  It stores the timer object pointer without
 * touching it: the loop holds the references and decides what a node is.
 * The sequence number breaks ties so that timers with equal deadlines fire
 * in the order they were scheduled. */
#ifndef CA_TIMERHEAP_H
#define CA_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double when;
    uint64_t seq;
    void *timer;
} ca_timer_node;

typedef struct {
    ca_timer_node *nodes;
    size_t len;
    size_t cap;
} ca_timerheap;

int ca_timerheap_push(ca_timerheap *h, double when, uint64_t seq, void *timer);
/* Removes the earliest node into *out; the heap must not be empty. */
void ca_timerheap_pop(ca_timerheap *h, ca_timer_node *out);
/* Restores the heap order after the caller rewrote the node array
 * (used when cancelled timers are compacted away). */
void ca_timerheap_heapify(ca_timerheap *h);
void ca_timerheap_free(ca_timerheap *h);

static inline ca_timer_node *
ca_timerheap_top(ca_timerheap *h)
{
    return h->len ? &h->nodes[0] : NULL;
}

#endif
