/* harness — a tiny TAP producer for the C unit tests; prove reads its output.
 * ok(cond, fmt, ...) and is_str(got, want, fmt, ...) record one test each;
 * done_testing() prints the plan and returns the exit status. */
#ifndef CALLBRIDGE_HARNESS_H
#define CALLBRIDGE_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int t_count, t_failed;

static void t_report(int pass, const char *file, int line, const char *fmt, va_list ap)
{
	t_count++;
	printf("%s %d - ", pass ? "ok" : "not ok", t_count);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass) {
		t_failed++;
		printf("#   at %s line %d\n", file, line);
	}
}

static inline int t_ok(int pass, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int t_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	t_report(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static inline int t_is_str(const char *got, const char *want, const char *file, int line,
			   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int t_is_str(const char *got, const char *want, const char *file, int line,
			   const char *fmt, ...)
{
	int pass = (!got && !want) || (got && want && strcmp(got, want) == 0);
	va_list ap;
	va_start(ap, fmt);
	t_report(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   got:  %s\n#   want: %s\n", got ? got : "(null)",
		       want ? want : "(null)");
	return pass;
}

#define ok(cond, ...)          t_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) t_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

static inline int done_testing(void)
{
	printf("1..%d\n", t_count);
	return t_failed ? 1 : 0;
}

#endif
