/* Values carried through the state (unknown settings keys, overrides, extra
 * status keys) come back from the C ABI as the same JSON value: integers
 * beyond 64 bits keep every digit, floats their exact decimal; and a value
 * nested as deep as the core accepts (MAX_PASS_THROUGH_DEPTH, 100) restores,
 * while one level deeper is refused naming the key, the machine unchanged.
 *
 * The checks read the library's JSON text itself: a C JSON parser (cJSON)
 * would turn the numbers into doubles and hide exactly what is tested. */
#include <stdint.h>

#include "common.h"

#define BIG "123456789012345678901234567890"
#define NEGATIVE_BIG "-98765432109876543210987654321098765432"
#define EXACT_FLOAT "0.1000000000000000000000000000001"
#define MAX_DEPTH 100

static const int64_t NOW = 1777308120000000; /* 2026-04-27T16:42:00Z */

static void check_contains(const char *json, const char *expected, const char *where) {
  CHECK(strstr(json, expected) != NULL, "%s: %s not in %s", where, expected, json);
}

/* Steps `event` on `m`, requiring success. */
static void step_ok(bangui_machine *m, const char *event) {
  char *effects = NULL;
  bangui_result rc = bangui_machine_step(m, event, NOW, &effects);
  REQUIRE(rc == BANGUI_RESULT_OK, "step %s: %s", event, last_error());
  bangui_string_free(effects);
}

/* A machine restored from `m`'s state JSON writes the same JSON. */
static void check_restores(const bangui_machine *m, const char *where) {
  char *json = state_of(m);
  bangui_machine *restored = NULL;
  bangui_result rc = bangui_machine_restore(json, &restored);
  CHECK(rc == BANGUI_RESULT_OK, "%s: restore: %s", where, last_error());
  if (rc == BANGUI_RESULT_OK) {
    char *again = state_of(restored);
    CHECK(strcmp(json, again) == 0, "%s: restored state differs:\n%s\n%s", where, json, again);
    bangui_string_free(again);
    bangui_machine_free(restored);
  }
  bangui_string_free(json);
}

static void numbers_come_back_as_written(void) {
  bangui_machine *m = NULL;
  bangui_result rc = bangui_machine_new(
      "{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 3600, "
      "\"max_id\": " BIG ", \"ratio\": " EXACT_FLOAT "}",
      &m);
  REQUIRE(rc == BANGUI_RESULT_OK, "new: %s", last_error());
  step_ok(m, "{\"type\": \"health_probe_completed\", \"status\": {\"online\": true, "
             "\"total_bans\": " NEGATIVE_BIG ", \"sizes\": [" BIG ", 18446744073709551616, 1e400]}}");
  step_ok(m, "{\"type\": \"settings_updated\", \"overrides\": {\"quota\": " BIG "}}");

  char *json = state_of(m);
  check_contains(json, "\"max_id\":" BIG, "bootstrap settings");
  check_contains(json, "\"ratio\":" EXACT_FLOAT, "bootstrap settings");
  check_contains(json, "\"total_bans\":" NEGATIVE_BIG, "status");
  check_contains(json, "\"sizes\":[" BIG ",18446744073709551616,1e+400]", "status");
  check_contains(json, "\"quota\":" BIG, "runtime settings");
  bangui_string_free(json);

  char *settings = NULL;
  rc = bangui_machine_effective_settings_json(m, &settings);
  REQUIRE(rc == BANGUI_RESULT_OK, "effective settings: %s", last_error());
  check_contains(settings, "\"max_id\":" BIG, "effective settings");
  check_contains(settings, "\"quota\":" BIG, "effective settings");
  bangui_string_free(settings);

  check_restores(m, "exact numbers");
  bangui_machine_free(m);
}

/* `[[[...1...]]]`, `depth` levels deep, in a buffer the caller frees. */
static char *nested(int depth) {
  char *text = malloc((size_t)depth * 2 + 2);
  REQUIRE(text != NULL, "out of memory");
  memset(text, '[', (size_t)depth);
  text[depth] = '1';
  memset(text + depth + 1, ']', (size_t)depth);
  text[depth * 2 + 1] = '\0';
  return text;
}

static char *with_value(const char *format, const char *value) {
  size_t size = strlen(format) + strlen(value) + 1;
  char *text = malloc(size);
  REQUIRE(text != NULL, "out of memory");
  snprintf(text, size, format, value);
  return text;
}

static void the_deepest_accepted_value_restores_and_one_deeper_is_refused(void) {
  const char *bootstrap_format =
      "{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 60, \"deep\": %s}";
  const char *event_format = "{\"type\": \"health_probe_completed\", \"status\": {\"online\": true, \"deep\": %s}}";
  char *deepest = nested(MAX_DEPTH);
  char *too_deep = nested(MAX_DEPTH + 1);

  /* Bootstrap settings. */
  char *text = with_value(bootstrap_format, deepest);
  bangui_machine *m = NULL;
  bangui_result rc = bangui_machine_new(text, &m);
  REQUIRE(rc == BANGUI_RESULT_OK, "new at the limit: %s", last_error());
  free(text);
  check_restores(m, "bootstrap at the limit");

  text = with_value(bootstrap_format, too_deep);
  bangui_machine *not_made = NULL;
  rc = bangui_machine_new(text, &not_made);
  CHECK(rc == BANGUI_RESULT_INVALID_SETTINGS, "new one deeper: %d", rc);
  CHECK(not_made == NULL, "a failed new wrote its output");
  CHECK(strncmp(last_error(), "bootstrap.deep: nested deeper than 100 levels", 45) == 0, "message: %s",
        last_error());
  free(text);

  /* An event: at the limit accepted, one deeper refused with the machine unchanged. */
  text = with_value(event_format, deepest);
  step_ok(m, text);
  free(text);
  check_restores(m, "status at the limit");

  char *before = state_of(m);
  text = with_value(event_format, too_deep);
  char *effects = NULL;
  rc = bangui_machine_step(m, text, NOW, &effects);
  CHECK(rc == BANGUI_RESULT_INVALID_EVENT, "step one deeper: %d", rc);
  CHECK(effects == NULL, "a failed step wrote its output");
  CHECK(strncmp(last_error(), "event.status.deep: nested deeper than 100 levels", 48) == 0, "message: %s",
        last_error());
  char *after = state_of(m);
  CHECK(strcmp(before, after) == 0, "a rejected step changed the state");
  free(text);
  bangui_string_free(before);
  bangui_string_free(after);

  bangui_machine_free(m);
  free(deepest);
  free(too_deep);
}

int main(void) {
  numbers_come_back_as_written();
  the_deepest_accepted_value_restores_and_one_deeper_is_refused();
  return finish("carried_values");
}
