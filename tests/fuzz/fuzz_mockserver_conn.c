/*
 * fuzz_mockserver_conn.c - a mockserver connection (mockserver/conn.c and
 * endpoints.c: parsing, pipelining, every endpoint, faults, /raw) driven
 * over a socketpair by the input as the client's bytes, without a network.
 *
 * Time is warped: a /delay, --delay or /drip timer fires at the next turn
 * of the loop.  A run is bounded: the client reads 256 KiB at most, then
 * closes; 20,000 loop turns at most.  The client sends the input whole,
 * then again in random pieces: the two conversations must be the same.
 * What comes back must read as HTTP responses, one per request (1xx
 * aside), except after a /raw file or a parse error; and --raw-dir must
 * never give away a file outside it (a secret next to it, a symlink to it).
 * The backend has one worker (--workers 1): every answer must give it back,
 * or the next request would wait for ever; after the close none is held.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "../../mockserver/mockserver.h"

#define OUT_CAP   (256u * 1024)
#define MAX_TURNS 20000
#define SECRET    "SECRET-OUTSIDE-RAW-DIR"

struct client {
	int fd;
	const uint8_t *send;
	size_t len, sent;
	struct splits sp;
	struct buf got;
	bool done;
	unsigned turns;
	struct server *srv;
};

static unsigned char pattern[PATTERN_LEN];
static int raw_dirfd = -1;
static char raw_top[] = "/tmp/l7lab-fuzz-raw.XXXXXX";

/* At exit, the folder goes (after a crash it stays, with the input). */
static void remove_raw_dir(void)
{
	static const char *const names[] = { "raw/ok.http", "raw/cl-te.http", "raw/big.http", "raw/link", "secret" };
	char path[64];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", raw_top, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/raw/dir", raw_top);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/raw", raw_top);
	rmdir(path);
	rmdir(raw_top);
}

/* --raw-dir: a good response, a directory, a symlink to a secret kept
 * beside the folder, and a file over the 1 MiB limit. */
static void make_raw_dir(void)
{
	char path[64];
	const char *top = raw_top;
	if (mkdtemp(raw_top) == NULL)
		fuzz_fail("mkdtemp failed");
	atexit(remove_raw_dir);
	struct { const char *name, *text; } files[] = {
		{ "secret", SECRET "\n" },
		{ "raw/ok.http", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
		{ "raw/cl-te.http", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc" },
	};
	snprintf(path, sizeof(path), "%s/raw", top);
	if (mkdir(path, 0700) < 0)
		fuzz_fail("mkdir failed");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", top, files[i].name);
		FILE *f = fopen(path, "w");
		if (f == NULL || fputs(files[i].text, f) < 0 || fclose(f) != 0)
			fuzz_fail("cannot write %s", path);
	}
	snprintf(path, sizeof(path), "%s/raw/big.http", top);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || ftruncate(fd, (1 << 20) + 1) < 0 || close(fd) < 0)
		fuzz_fail("cannot make big.http");
	char target[64];
	snprintf(target, sizeof(target), "%s/secret", top);
	snprintf(path, sizeof(path), "%s/raw/link", top);
	if (symlink(target, path) < 0)
		fuzz_fail("symlink failed");
	snprintf(path, sizeof(path), "%s/raw/dir", top);
	if (mkdir(path, 0700) < 0)
		fuzz_fail("mkdir failed");
	snprintf(path, sizeof(path), "%s/raw", top);
	raw_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (raw_dirfd < 0)
		fuzz_fail("cannot open the raw dir");
}

/* The client's one callback, called at every turn of the loop (its socket
 * is watched for writing, which it nearly always is): read what came,
 * send the next piece of the request bytes, and make time jump forward.
 * (A timer re-armed at 0 ms would run again in the same turn, without
 * polling: see ev.c's run_due_timers.) */
static void client_io(ev_loop *loop, int fd, void *arg, int mask)
{
	struct client *cl = arg;
	if (mask & EV_READ) {
		char sink[16384];
		ssize_t n = read(fd, sink, sizeof(sink));
		if (n > 0 && buf_len(&cl->got) < OUT_CAP) {
			size_t keep = (size_t)n < OUT_CAP - buf_len(&cl->got) ? (size_t)n : OUT_CAP - buf_len(&cl->got);
			if (buf_append(&cl->got, sink, keep) < 0)
				fuzz_fail("out of memory");
		}
		if (n == 0 || (n < 0 && errno != EAGAIN) || buf_len(&cl->got) >= OUT_CAP) {
			cl->done = true;        /* the server closed, or enough was read */
			ev_stop(loop);
			return;
		}
	}
	if ((mask & EV_WRITE) && cl->sent < cl->len) {
		size_t n = splits_next(&cl->sp, cl->len - cl->sent);
		ssize_t w = write(fd, cl->send + cl->sent, n);
		if (w > 0)
			cl->sent += (size_t)w;
		if (cl->sent == cl->len && shutdown(fd, SHUT_WR) < 0)
			fuzz_fail("shutdown failed");
	}
	for (struct conn *c = cl->srv->conns; c != NULL; c = c->next)
		if (ev_timer_armed(&c->timer) && (c->state == CS_DELAYED || c->state == CS_DRIPPING))
			ev_timer_arm(loop, &c->timer, 0, c->timer.fn, c->timer.arg);
	if (++cl->turns >= MAX_TURNS)
		ev_stop(loop);
}

/* One conversation; returns what the client read (bounded) and whether it
 * ran to its end. */
static bool converse(const uint8_t *data, size_t size, enum split_mode mode, struct buf *got)
{
	struct server srv = { .pattern = pattern };
	struct backend be = { .srv = &srv, .fd = -1, .raw_dirfd = raw_dirfd, .healthy = true };
	struct client cl = { .send = data, .len = size, .srv = &srv };
	int sv[2];
	struct addr peer = { .len = 0 };

	srv.loop = ev_new();
	srv.be = &be;
	srv.nbe = 1;
	snprintf(be.name, sizeof(be.name), "f1");
	be.o = (struct opts){ .fail_status = 503, .max_header = 4096, .max_body = 4096,
	                      .fail_rate = 0.02, .drop_rate = 0.02, .reset_rate = 0.02,
	                      .workers = 1 };   /* a worker not given back stalls the next request */
	rng_seed(&be.rng, 15);
	if (srv.loop == NULL || leak_page_build(&srv.leak_page) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_fail("cannot set up the connection");
	cl.fd = sv[1];
	splits_init(&cl.sp, mode, data, size);
	conn_accept(&be, sv[0], &peer);
	if (ev_watch(srv.loop, cl.fd, EV_READ | EV_WRITE, client_io, &cl) < 0)
		fuzz_fail("ev_watch failed");
	if (size == 0 && shutdown(cl.fd, SHUT_WR) < 0)
		fuzz_fail("shutdown failed");
	ev_run(srv.loop);

	bool ended = cl.done;
	conn_close_all(&srv, "fuzz run over");
	FUZZ_CHECK(srv.nconns == 0 && be.st.open == 0, "connections left open: %zu", srv.nconns);
	FUZZ_CHECK(be.busy == 0 && be.queue_head == NULL && be.queue_tail == NULL,
	           "--workers: %llu still busy, or a request queued, after every connection closed",
	           (unsigned long long)be.busy);
	ev_unwatch(srv.loop, cl.fd);
	close(cl.fd);
	ev_free(srv.loop);
	buf_free(&srv.scratch);
	buf_free(&srv.leak_page);
	*got = cl.got;
	return ended;
}

/* ---- what came back ------------------------------------------------------ */

struct methods {
	bool head[256];          /* request i was a HEAD                   */
	size_t n;
	size_t answered;         /* final responses read                   */
};

static int req_headers(struct http_msg *m)
{
	struct methods *ms = m->user;
	if (ms->n < 256)
		ms->head[ms->n] = m->parser.method == HTTP_HEAD;
	ms->n++;
	return 0;
}

static int resp_headers(struct http_msg *m)
{
	struct methods *ms = m->user;
	if (http_status(m) < 200)
		return 0;            /* 100 Continue: the final answer follows */
	size_t i = ms->answered++;
	return i < 256 && ms->head[i] ? 1 : 0;
}

static void check_responses(const uint8_t *data, size_t size, const struct buf *got, bool ended)
{
	/* (A client may send the marker itself, for /echo to send back.) */
	FUZZ_CHECK(memmem(buf_begin(got), buf_len(got), SECRET, strlen(SECRET)) == NULL ||
	           memmem(data, size, SECRET, strlen(SECRET)) != NULL,
	           "a /raw request read a file outside --raw-dir");
	if (memmem(data, size, "/raw/", 5) != NULL || !ended || buf_len(got) >= OUT_CAP)
		return;              /* raw bytes are whatever the file says; a cut run proves nothing */

	struct methods ms = { .n = 0 };
	struct http_hooks rh = { .on_headers = req_headers }, sh = { .on_headers = resp_headers };
	struct http_msg req, resp;
	http_msg_init(&req, HTTP_REQUEST, &rh, &ms);
	req.max_head = 4096;
	llhttp_errno_t e = http_msg_feed(&req, (const char *)data, size, NULL);
	bool parse_error = e != HPE_OK && e != HPE_PAUSED_UPGRADE;
	http_msg_free(&req);

	http_msg_init(&resp, HTTP_RESPONSE, &sh, &ms);
	resp.max_head = 1 << 20;
	e = http_msg_feed(&resp, buf_begin(got), buf_len(got), NULL);
	if (e == HPE_OK)
		e = http_msg_finish(&resp);
	FUZZ_CHECK(e == HPE_OK || e == HPE_PAUSED_UPGRADE, "mockserver's answer is not HTTP: %s\n%.*s", resp.error,
	           (int)(buf_len(got) < 2000 ? buf_len(got) : 2000), buf_begin(got));
	FUZZ_CHECK(ms.answered <= ms.n + parse_error, "%zu responses to %zu requests", ms.answered, ms.n);
	http_msg_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		signal(SIGPIPE, SIG_IGN);
		memset(pattern, 'x', sizeof(pattern));
		make_raw_dir();
		ready = true;
	}
	struct buf whole, pieces;
	bool ended = converse(data, size, SPLIT_WHOLE, &whole);
	bool ended2 = converse(data, size, SPLIT_RANDOM, &pieces);
	check_responses(data, size, &whole, ended);
	if (ended && ended2)
		FUZZ_CHECK(buf_len(&whole) == buf_len(&pieces) && memcmp(buf_begin(&whole), buf_begin(&pieces), buf_len(&whole)) == 0,
		           "the answer differs when the request comes in pieces:\n--- whole:\n%.*s\n--- pieces:\n%.*s",
		           (int)(buf_len(&whole) < 2000 ? buf_len(&whole) : 2000), buf_begin(&whole),
		           (int)(buf_len(&pieces) < 2000 ? buf_len(&pieces) : 2000), buf_begin(&pieces));
	buf_free(&whole);
	buf_free(&pieces);
	return 0;
}
