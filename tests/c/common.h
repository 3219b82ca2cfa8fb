/* Shared helpers for the C tests of libbangui_state. */
#ifndef BANGUI_TEST_COMMON_H
#define BANGUI_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bangui_state.h"

static int test_failures = 0;
static int test_checks = 0;

#define CHECK(cond, ...)                                                         \
  do {                                                                           \
    test_checks++;                                                               \
    if (!(cond)) {                                                               \
      test_failures++;                                                           \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
    }                                                                            \
  } while (0)

/* Stops the test at once: for a failure that makes the rest meaningless. */
#define REQUIRE(cond, ...)                                                       \
  do {                                                                           \
    int required_ok_ = (cond) ? 1 : 0; /* evaluated once: it may be a call */    \
    CHECK(required_ok_, __VA_ARGS__);                                            \
    if (!required_ok_) exit(1);                                                  \
  } while (0)

static inline const char *last_error(void) { return bangui_last_error_message(); }

/* The state JSON of a machine; the caller frees it with bangui_string_free. */
static inline char *state_of(const bangui_machine *m) {
  char *json = NULL;
  bangui_result rc = bangui_machine_state_json(m, &json);
  REQUIRE(rc == BANGUI_RESULT_OK && json != NULL, "state_json: %s", last_error());
  return json;
}

/* Prints the closing line the runners read and returns the exit code. */
static inline int finish(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, test_checks - test_failures, test_failures);
  return test_failures == 0 ? 0 : 1;
}

#endif
