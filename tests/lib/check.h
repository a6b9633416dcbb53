/*
 * tests/lib/check.h: the smallest C test helper.
 *
 * Each TEST() runs one function and prints one line the harness counts:
 *   PASS name | FAIL name | SKIP name: reason
 * CHECK() records a failed condition with file and line and carries on, so one
 * run shows every broken check. main() returns check_exit().
 */
#ifndef SBX_TESTS_CHECK_H
#define SBX_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_skipped;
static const char *check_skip_reason = "";

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("  check failed: %s:%d: %s\n", __FILE__,        \
			       __LINE__, #cond);                               \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		if (check_a_ != check_b_) {                                    \
			printf("  check failed: %s:%d: %s == %s (%lld != %lld)\n", \
			       __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
			check_failures++;                                      \
		}                                                              \
	} while (0)

/* Marks the running test as skipped, with a reason; the test should return. */
#define SKIP(reason) (check_skipped = 1, check_skip_reason = (reason))

#define TEST(fn) check_run(#fn, fn)

static inline void check_run(const char *name, void (*fn)(void))
{
	int before = check_failures;

	check_skipped = 0;
	fflush(stdout);
	fn();
	if (check_failures != before)
		printf("FAIL %s\n", name);
	else if (check_skipped)
		printf("SKIP %s: %s\n", name, check_skip_reason);
	else
		printf("PASS %s\n", name);
	fflush(stdout);
}

static inline int check_exit(void)
{
	return check_failures ? 1 : 0;
}

#endif
