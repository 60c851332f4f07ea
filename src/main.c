/* callbridge — receives voice-agent and telephony webhooks and lands them in PostgreSQL
 * as relational rows. This file is the command line: serve, migrate, config. */
#include "config.h"
#include "export.h"
#include "worker.h"
#include "writer.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "retention.h"
#include "platform.h"
#include "precall.h"
#include "sources.h"
#include "replay.h"
#include "ts.h"
#include "verify.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <strings.h>
#include <ctype.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#ifndef CALLBRIDGE_VERSION
#define CALLBRIDGE_VERSION "dev"
#endif

static const char usage[] =
	"usage: callbridge [serve | migrate | replay [options] | export [options] | prune |\n"
	"                   forget --phone NUMBER [--reference TEXT] | config | check-config |\n"
	"                   platforms [--json]] [--help] [--version]\n"
	"\n"
	"  serve     run the HTTP server (the default)\n"
	"  migrate   apply pending database migrations, then exit\n"
	"  replay    re-run the mappers over stored events, then exit; options:\n"
	"              --platform SLUG   only this platform's events\n"
	"              --status S        only events stored as mapped, unmapped or failed\n"
	"              --since TIME      only events received at or after TIME (ISO 8601)\n"
	"  export    print a table's rows changed since a cursor as NDJSON, then a last\n"
	"            line {\"cursor\":...} (docs/change-feed.md); options:\n"
	"              --table T         calls, call_audits, sms_messages or contacts\n"
	"              --since CURSOR    0 the first time, then the cursor it printed\n"
	"              --limit N         at most N rows (default 1000)\n"
	"              --source NAME     only that source's rows (docs/sources.md)\n"
	"  prune     make the partitions ahead and apply CALLBRIDGE_RAW_RETENTION_DAYS now\n"
	"            (the daemon also does it every CALLBRIDGE_MAINTENANCE_INTERVAL_SECONDS)\n"
	"  forget    erase everything about one person (docs/operations.md); options:\n"
	"              --phone NUMBER    their phone number, in any usual format\n"
	"              --reference TEXT  kept in callbridge.erasures (a ticket, say)\n"
	"  config    print the settings table (name, default, meaning)\n"
	"  check-config  check the settings, secrets and the sources file without starting;\n"
	"            exit 0, or 1 with the reason (FILE:LINE for the sources file)\n"
	"  platforms print the platform table, one line each in the table's order:\n"
	"            slug, name, signature scheme and its header if it names one,\n"
	"            tab-separated; --json: as a JSON array\n"
	"\n"
	"Settings come from the environment and from .env in the working directory;\n"
	"see README.md. DATABASE_URL is required for serve, migrate, replay, export, prune\n"
	"and forget.\n";

struct server {
	struct event_base *base;
	struct http_server *http;
	struct writer *writer;
	struct workers *workers; /* NULL: one loop */
	struct retention_worker *maintenance;
	struct event *sigint, *sigterm, *sighup, *drain;
	int64_t stop_deadline_ms;
	int shutdown_timeout_s;
	int quiet_ticks;
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "callbridge: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static bool patterned_name(const char *name)
{
	/* Read by the scripts around the daemon (make run, make report), not by it. */
	if (!strcmp(name, "CALLBRIDGE_PG_PORT") || !strcmp(name, "CALLBRIDGE_PG_FSYNC"))
		return true;
	for (int i = 0; i < platform_count; i++)
		if (verify_is_setting(platforms[i].slug, name))
			return true;
	return precall_is_setting(name);
}

static void warn_unknown(const char *name, const char *source)
{
	log_warn("unknown setting ignored (a typo?)", "name", name, "in", source);
}

/* A scheme as CALLBRIDGE_<SLUG>_SIGNATURE spells it. No default case: a new scheme
 * must be named here, or -Wswitch says so. */
static const char *scheme_name(enum verify_scheme s)
{
	switch (s) {
	case VERIFY_NONE:
		return "none";
	case VERIFY_SIMZ:
		return "simz";
	case VERIFY_HEX_BODY:
		return "hmac-hex";
	case VERIFY_STANDARD:
		return "standard";
	case VERIFY_STRIPE:
		return "stripe";
	}
	return "?";
}

/* One platform as a JSON object; NULL when out of memory (json-c would otherwise store
 * a failed allocation as null without a word). */
static json_object *platform_json(const struct platform *p)
{
	const char *keys[] = {"slug", "name", "scheme", "signature_header"};
	const char *vals[] = {p->slug, p->name, scheme_name(p->scheme), p->signature_header};
	json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < sizeof keys / sizeof keys[0]; i++) {
		json_object *v = vals[i] ? json_object_new_string(vals[i]) : NULL;
		if ((vals[i] && !v) || json_object_object_add(o, keys[i], v) < 0) {
			json_object_put(v);
			json_object_put(o);
			o = NULL;
		}
	}
	return o;
}

/* `callbridge platforms [--json]`: the platform table in its order (line n is
 * platforms[n - 1], the index fuzz_intake's first byte picks). Scripts, tests and docs
 * checks read the platforms from here, so platform.c stays the only list of them. */
static int print_platforms(int argc, char **argv)
{
	bool json = argc == 3 && !strcmp(argv[2], "--json");
	if (argc > 3 || (argc == 3 && !json))
		return die("unexpected argument '%s' (see --help)", argv[argc - 1]);
	if (!json) {
		for (int i = 0; i < platform_count; i++) {
			const struct platform *p = &platforms[i];
			printf("%s\t%s\t%s%s%s\n", p->slug, p->name, scheme_name(p->scheme),
			       p->signature_header ? "\t" : "",
			       p->signature_header ? p->signature_header : "");
		}
		return fflush(stdout) == 0 ? 0 : die("stdout: %s", strerror(errno));
	}
	json_object *all = json_object_new_array();
	for (int i = 0; all && i < platform_count; i++) {
		json_object *o = platform_json(&platforms[i]);
		if (!o || json_object_array_add(all, o) < 0) {
			json_object_put(o);
			json_object_put(all);
			all = NULL;
		}
	}
	const char *text = all ? json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN) : NULL;
	if (!text) {
		json_object_put(all);
		return die("out of memory");
	}
	bool written = printf("%s\n", text) >= 0 && fflush(stdout) == 0;
	int saved = errno;
	json_object_put(all);
	return written ? 0 : die("stdout: %s", strerror(saved));
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct server *sv = arg;
	struct timeval now;
	event_base_gettimeofday_cached(sv->base, &now);
	int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
	/* An answer is only queued when inflight drops; the socket write happens in a later
	 * pass of the loop. Leave after a second quiet tick so the last answers are sent. */
	if (http_inflight() == 0) {
		if (++sv->quiet_ticks >= 2)
			event_base_loopexit(sv->base, NULL);
	} else if (now_ms >= sv->stop_deadline_ms) {
		log_warn(
			"shutdown timeout: deliveries still in flight are spooled if they can be and "
			"left unanswered; their senders retry");
		event_base_loopexit(sv->base, NULL);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct server *sv = arg;
	if (sv->drain) {
		log_warn("second signal: stopping now");
		event_base_loopexit(sv->base, NULL);
		return;
	}
	log_notice("stopping: no new connections; finishing deliveries in flight", "signal",
		   sig == SIGTERM ? "TERM" : "INT");
	http_stop(sv->http);
	worker_stop(sv->workers);
	struct timeval now, tick = {0, 20000};
	event_base_gettimeofday_cached(sv->base, &now);
	sv->stop_deadline_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000 +
			       (int64_t)sv->shutdown_timeout_s * 1000;
	sv->drain = event_new(sv->base, -1, EV_PERSIST, on_drain_tick, sv);
	if (sv->drain)
		event_add(sv->drain, &tick);
	else
		event_base_loopexit(sv->base, NULL);
}

/* SIGHUP: the sources file again; a bad one is refused and the sources stay. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	const struct config *cfg = arg;
	char err[512];
	if (!cfg->sources_file || !*cfg->sources_file) {
		log_notice("SIGHUP: no CALLBRIDGE_SOURCES_FILE to reload");
		return;
	}
	if (sources_reload(cfg->sources_file, err, sizeof err) < 0) {
		log_error("sources file refused; the sources in force stay", "error", err);
		return;
	}
	struct sources *s = sources_acquire();
	int n = 0;
	while (sources_at(s, n))
		n++;
	sources_release(s);
	char count[16];
	snprintf(count, sizeof count, "%d", n - platform_count);
	log_notice("sources file reloaded", "file", cfg->sources_file, "sources", count);
}

/* The secrets, lookup tokens and sources; warn: say which routes are open (serve). */
static int load_secrets(const struct config *cfg, bool warn)
{
	char err[256];
	verify_set_tolerance(cfg->signature_tolerance_seconds);
	for (int i = 0; i < platform_count; i++)
		if (verify_load(i, platforms[i].slug, platforms[i].scheme, err, sizeof err) < 0)
			return die("%s", err);
	if (precall_load_tokens(err, sizeof err) < 0)
		return die("%s", err);
	struct sources *s = sources_load(cfg->sources_file, err, sizeof err);
	if (!s)
		return die("%s", err);
	sources_install(s);
	const struct source *src;
	for (int i = platform_count; warn && (src = sources_at(s, i)); i++) {
		if (src->insecure && !verify_keys_required(src->keys))
			log_warn("insecure source: anyone can post to its route", "platform",
				 src->platform->slug, "source", src->name);
		else if (src->refuse_unsigned)
			log_warn("source without a secret or token: its deliveries are refused "
				 "(add one, or insecure = true)",
				 "platform", src->platform->slug, "source", src->name);
	}
	for (int i = 0; warn && i < platform_count; i++) {
		if (!verify_required(i))
			log_warn(
				"no secret or token configured: anyone can post to this platform's route",
				"platform", platforms[i].slug);
	}
	return 0;
}

/* Connections at once: the soft open-files limit becomes max_connections plus room for
 * the daemon's own descriptors (listener, database, spool, log); when the hard limit is
 * lower, it is used, with a warning. See http.c for what happens at the limit. */
#define OWN_FILES 64
static void limit_connections(int max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + OWN_FILES;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		char have[24];
		snprintf(have, sizeof have, "%llu", (unsigned long long)rl.rlim_max);
		log_warn("the hard open-files limit is below CALLBRIDGE_MAX_CONNECTIONS + 64; "
			 "connections are limited by it instead",
			 "nofile", have);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("cannot set the open-files limit", "error", strerror(errno));
}

static int serve(const struct config *cfg)
{
	struct server sv = {0};
	char err[512];
	int rc = 1;

	if (!cfg->database_url)
		return die(
			"%s",
			"DATABASE_URL is not set (make run starts a local PostgreSQL and sets it)");
	if (load_secrets(cfg, true) != 0)
		return 1;
	int pending = migrate_pending(cfg->database_url, cfg->db_connect_timeout_seconds, err,
				      sizeof err);
	if (pending > 0)
		log_warn("database schema is not up to date: deliveries wait in the spool until "
			 "`callbridge migrate` has run");
	else if (pending < 0)
		log_warn("cannot check the database schema now; serving anyway", "error", err);

	signal(SIGPIPE, SIG_IGN);
	limit_connections(cfg->max_connections);
	sv.shutdown_timeout_s = cfg->shutdown_timeout_seconds;
	sv.base = worker_new_base();
	if (!sv.base)
		return die("%s", "cannot create the event loop");
	sv.writer = writer_new(sv.base, cfg, err, sizeof err);
	if (!sv.writer) {
		die("%s", err);
		goto done;
	}
	sv.http = http_new(sv.base, cfg, sv.writer);
	if (!sv.http) {
		die("%s", "out of memory at start-up");
		goto done;
	}
	if (http_listen(sv.http, err, sizeof err) < 0) {
		die("%s", err);
		goto done;
	}
	if (cfg->workers > 1) {
		if (writer_enable_handoff(sv.writer) < 0) {
			die("%s", "out of memory at start-up");
			goto done;
		}
		sv.workers = worker_start(sv.http, cfg->workers - 1, err, sizeof err);
		if (!sv.workers) {
			die("%s", err);
			goto done;
		}
	}
	sv.maintenance = retention_start(cfg);
	if (!sv.maintenance) {
		die("%s", "cannot start the maintenance thread");
		goto done;
	}
	sv.sigint = evsignal_new(sv.base, SIGINT, on_signal, &sv);
	sv.sigterm = evsignal_new(sv.base, SIGTERM, on_signal, &sv);
	sv.sighup = evsignal_new(sv.base, SIGHUP, on_hup, (void *)cfg);
	if (!sv.sigint || !sv.sigterm || !sv.sighup || event_add(sv.sigint, NULL) ||
	    event_add(sv.sigterm, NULL) || event_add(sv.sighup, NULL)) {
		die("%s", "cannot install signal handlers");
		goto done;
	}
	char port[16], loops[16];
	snprintf(port, sizeof port, "%d", cfg->port);
	snprintf(loops, sizeof loops, "%d", cfg->workers);
	log_notice("listening", "address", cfg->listen, "port", port, "tls",
		   cfg->tls_cert_file ? "on" : "off", "workers", loops, "admin",
		   cfg->admin_listen ? cfg->admin_listen : "off", "version", CALLBRIDGE_VERSION);
	event_base_dispatch(sv.base);
	log_notice("stopped");
	rc = 0;
done:
	retention_stop(&sv.maintenance);
	writer_close(sv.writer); /* its last spool fsyncs finish deliveries: before http_free */
	worker_free(&sv.workers);
	http_free(&sv.http);
	writer_free(&sv.writer); /* after the receivers: what they still handed over */
	if (sv.sigint)
		event_free(sv.sigint);
	if (sv.sigterm)
		event_free(sv.sigterm);
	if (sv.sighup)
		event_free(sv.sighup);
	if (sv.drain)
		event_free(sv.drain);
	if (sv.base)
		event_base_free(sv.base);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = "serve";
	struct config cfg;
	char err[512];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("callbridge %s\n", CALLBRIDGE_VERSION);
			return 0;
		}
	}
	struct replay_filter filter = {0};
	struct export_args exp = {0};
	const char *phone = NULL, *reference = NULL;
	if (argc >= 2)
		cmd = argv[1];
	if (!strcmp(cmd, "platforms"))
		return print_platforms(argc, argv);
	if (strcmp(cmd, "serve") && strcmp(cmd, "migrate") && strcmp(cmd, "config") &&
	    strcmp(cmd, "replay") && strcmp(cmd, "export") && strcmp(cmd, "check-config") &&
	    strcmp(cmd, "prune") && strcmp(cmd, "forget"))
		return die("unknown command '%s' (see --help)", cmd);
	for (int i = 2; i < argc; i++) {
		const char **slot = NULL;
		if (!strcmp(cmd, "replay") && !strcmp(argv[i], "--platform"))
			slot = &filter.platform;
		else if (!strcmp(cmd, "replay") && !strcmp(argv[i], "--status"))
			slot = &filter.status;
		else if (!strcmp(cmd, "replay") && !strcmp(argv[i], "--since"))
			slot = &filter.since;
		else if (!strcmp(cmd, "export") && !strcmp(argv[i], "--table"))
			slot = &exp.table;
		else if (!strcmp(cmd, "export") && !strcmp(argv[i], "--since"))
			slot = &exp.since;
		else if (!strcmp(cmd, "export") && !strcmp(argv[i], "--limit"))
			slot = &exp.limit;
		else if (!strcmp(cmd, "export") && !strcmp(argv[i], "--source"))
			slot = &exp.source;
		else if (!strcmp(cmd, "forget") && !strcmp(argv[i], "--phone"))
			slot = &phone;
		else if (!strcmp(cmd, "forget") && !strcmp(argv[i], "--reference"))
			slot = &reference;
		if (!slot)
			return die("unexpected argument '%s' (see --help)", argv[i]);
		if (i + 1 == argc)
			return die("%s needs a value", argv[i]);
		*slot = argv[++i];
	}
	if (filter.platform && !platform_find(filter.platform, strlen(filter.platform)))
		return die("--platform: unknown platform '%s'", filter.platform);
	int64_t since_us;
	if (filter.since && !ts_parse_iso(filter.since, &since_us))
		return die("--since: '%s' is not an ISO 8601 time", filter.since);
	if (filter.status && strcmp(filter.status, "mapped") && strcmp(filter.status, "unmapped") &&
	    strcmp(filter.status, "failed"))
		return die("--status: must be mapped, unmapped or failed, not '%s'", filter.status);
	if (!strcmp(cmd, "export") && export_check(&exp, err, sizeof err) < 0)
		return die("%s", err);
	if (!strcmp(cmd, "forget") && (!phone || !*phone))
		return die("%s", "forget needs --phone NUMBER");
	if (!strcmp(cmd, "config")) {
		cfg_print_table(stdout);
		return 0;
	}

	if (cfg_load(&cfg, ".env", err, sizeof err) < 0)
		return die("%s", err);
	if (platform_load_zones(err, sizeof err) < 0) /* every path that maps, one zone each */
		return die("%s", err);
	log_setup((enum log_level)cfg.log_level, cfg.log_format == LOGFMT_JSON);
	cfg_each_unknown(patterned_name, warn_unknown);

	if (!strcmp(cmd, "replay")) {
		if (!cfg.database_url)
			rc = die("%s", "DATABASE_URL is not set");
		else if (load_secrets(&cfg, false) != 0) /* the sources' zones, as serve has them */
			rc = 1;
		else if (replay_run(&cfg, &filter, err, sizeof err) < 0)
			rc = die("%s", err);
		else
			rc = 0;
	} else if (!strcmp(cmd, "export")) {
		if (!cfg.database_url)
			rc = die("%s", "DATABASE_URL is not set");
		else if (export_run(cfg.database_url, cfg.db_connect_timeout_seconds, &exp, stdout,
				    err, sizeof err) < 0)
			rc = die("%s", err);
		else
			rc = 0;
	} else if (!strcmp(cmd, "prune") || !strcmp(cmd, "forget")) {
		if (!cfg.database_url)
			rc = die("%s", "DATABASE_URL is not set");
		else if ((!strcmp(cmd, "prune") ? retention_prune(&cfg, stdout, err, sizeof err)
						: retention_forget(&cfg, phone, reference, stdout,
								   err, sizeof err)) < 0)
			rc = die("%s", err);
		else
			rc = 0;
	} else if (!strcmp(cmd, "migrate")) {
		if (!cfg.database_url)
			rc = die("%s", "DATABASE_URL is not set");
		else if ((rc = migrate_run(cfg.database_url, cfg.db_connect_timeout_seconds, err,
					   sizeof err)) < 0)
			rc = die("%s", err);
		else {
			char n[16];
			snprintf(n, sizeof n, "%d", rc);
			log_notice("migrations done", "applied", n);
			rc = 0;
		}
	} else if (!strcmp(cmd, "check-config")) {
		rc = load_secrets(&cfg, true) != 0;
		if (!rc)
			printf("configuration ok\n");
	} else {
		rc = serve(&cfg);
	}
	sources_shutdown();
	verify_free();
	platform_free_zones();
	cfg_free();
	return rc;
}
