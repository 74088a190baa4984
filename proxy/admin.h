/*
 * admin.h - --admin ADDR:PORT: the proxy's own small HTTP endpoint, served
 * from the same poll loop as the traffic it reports on:
 *   GET /            the dashboard: pools, servers, state, load, TTFB,
 *                    per-second charts (HTML; a little JavaScript refreshes
 *                    it every second, and it reads fine without)
 *   GET /stats       the same figures as JSON
 *   GET /metrics     Prometheus' text format
 * admin.c runs the listener and its connections, with limits of their own
 * (connections, head size, time), so a bad admin client costs the proxy's
 * clients nothing; admin_page.c writes the documents.
 */
#ifndef PROXY_ADMIN_H
#define PROXY_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

#define ADMIN_MAX_CONNS  16         /* admin connections at once             */
#define ADMIN_MAX_HEAD   8192       /* request line and headers, bytes       */
#define ADMIN_TIMEOUT_MS 5000       /* to send the request and take the answer */

/* Opens the --admin listener and starts the telemetry (nothing without
 * --admin).  Returns 0, or -1 after saying why on stderr. */
int admin_start(void);
/* Prints "listening admin ADDR:PORT" to out, once everything is bound. */
void admin_announce(FILE *out);
/* Closes the listener and every admin connection, frees the telemetry. */
void admin_stop(void);

/* The documents, appended to out.  Return 0, or -1 on ENOMEM. */
int admin_page_html(struct buf *out);
int admin_page_json(struct buf *out);
int admin_page_metrics(struct buf *out);

/* The dashboard's static files (proxy/admin/), built into the binary:
 * build/.../gen/admin_assets.c, written by proxy/admin/embed.sh. */
struct admin_asset {
	const char *path;               /* "/dashboard.js"                      */
	const char *type;               /* "text/javascript; charset=utf-8"      */
	const char *body;
	size_t len;
};
extern const struct admin_asset admin_assets[];   /* ends with path NULL */

#endif
