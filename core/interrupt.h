/* The one thing the host and the network plugin (core/net/) agree on about Ctrl-C: the
 * shape of the question "did the user ask the run to stop?". The host answers it
 * (rk_interrupted, host.c) and hands the answer to the plugin when it loads it
 * (rk_http_set_interrupt, net/http.h); the plugin includes nothing of the host. */
#ifndef RK_INTERRUPT_H
#define RK_INTERRUPT_H

/* Whether the user asked the run to stop (non-zero: yes). */
typedef int (*rk_interrupt_fn)(void);

#endif
