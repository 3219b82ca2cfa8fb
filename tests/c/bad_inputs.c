/*
 * Bad inputs through the C API: NULL everywhere, invalid UTF-8, truncated
 * JSON, wrong types, unknown event type, unknown schema version, out-of-range
 * instants, an exhausted revision. Each must return the right code and
 * message, write no output, and leave the state JSON byte-identical.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common.h"

#define NOW INT64_C(1777308120000000) /* 2026-04-27T16:42:00Z */
#define BOOT "{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 3600, \"db\": \"x\"}"

static bangui_machine *m;
static char *snapshot;

/* Checks a failed call: code, exact message, and an unchanged state. */
static void expect(const char *what, bangui_result rc, bangui_result code, const char *message) {
  CHECK(rc == code, "%s: got %s, expected %s (%s)", what, bangui_result_name(rc), bangui_result_name(code),
        last_error());
  CHECK(strcmp(last_error(), message) == 0, "%s: message\n got:      %s\n expected: %s", what, last_error(),
        message);
  char *now_state = state_of(m);
  CHECK(strcmp(now_state, snapshot) == 0, "%s: the state JSON changed", what);
  bangui_string_free(now_state);
}

/* As expect, with the message only required to start with `prefix`. */
static void expect_prefix(const char *what, bangui_result rc, bangui_result code, const char *prefix) {
  CHECK(rc == code, "%s: got %s, expected %s (%s)", what, bangui_result_name(rc), bangui_result_name(code),
        last_error());
  CHECK(strncmp(last_error(), prefix, strlen(prefix)) == 0, "%s: message\n got:      %s\n expected: %s...", what,
        last_error(), prefix);
  CHECK(strlen(last_error()) > strlen(prefix), "%s: the message says what is wrong: %s", what, last_error());
  char *now_state = state_of(m);
  CHECK(strcmp(now_state, snapshot) == 0, "%s: the state JSON changed", what);
  bangui_string_free(now_state);
}

static void null_arguments(void) {
  char *const sentinel = (char *)"untouched";
  char *out = sentinel;
  bangui_machine *made = (bangui_machine *)&out; /* any non-NULL sentinel */
  bangui_machine *const made_before = made;

  expect("new(NULL)", bangui_machine_new(NULL, &made), BANGUI_RESULT_NULL_ARGUMENT,
         "bootstrap_json: must not be NULL");
  expect("new(.., NULL)", bangui_machine_new(BOOT, NULL), BANGUI_RESULT_NULL_ARGUMENT,
         "machine_out: must not be NULL");
  expect("restore(NULL)", bangui_machine_restore(NULL, &made), BANGUI_RESULT_NULL_ARGUMENT,
         "state_json: must not be NULL");
  expect("restore(.., NULL)", bangui_machine_restore(snapshot, NULL), BANGUI_RESULT_NULL_ARGUMENT,
         "machine_out: must not be NULL");
  CHECK(made == made_before, "machine_out was written on failure");

  const char *ev = "{\"type\": \"activation_cleared\"}";
  expect("step(NULL machine)", bangui_machine_step(NULL, ev, NOW, &out), BANGUI_RESULT_NULL_ARGUMENT,
         "machine: must not be NULL");
  expect("step(NULL event)", bangui_machine_step(m, NULL, NOW, &out), BANGUI_RESULT_NULL_ARGUMENT,
         "event_json: must not be NULL");
  expect("step(NULL out)", bangui_machine_step(m, ev, NOW, NULL), BANGUI_RESULT_NULL_ARGUMENT,
         "effects_json_out: must not be NULL");
  CHECK(out == sentinel, "effects_json_out was written on failure");

  bangui_probe_report report = {99, 9.0, 99};
  expect("probe(NULL machine)", bangui_machine_health_probe(NULL, true, "1", 1, NOW, &report, &out),
         BANGUI_RESULT_NULL_ARGUMENT, "machine: must not be NULL");
  expect("probe(NULL report)", bangui_machine_health_probe(m, true, "1", 1, NOW, NULL, &out),
         BANGUI_RESULT_NULL_ARGUMENT, "report_out: must not be NULL");
  CHECK(report.logs == 99 && report.revision == 99, "report_out was written on failure");
  expect("steady_effects(.., NULL)", bangui_health_probe_steady_effects_json(true, "1", 1, NULL),
         BANGUI_RESULT_NULL_ARGUMENT, "effects_json_out: must not be NULL");
  expect("steady_effects(bad UTF-8)", bangui_health_probe_steady_effects_json(true, "1.\xc3(", 1, &out),
         BANGUI_RESULT_INVALID_UTF8, "version: invalid UTF-8 at byte 2");
  CHECK(out == sentinel, "effects_json_out was written on failure");

  expect("state_json(NULL)", bangui_machine_state_json(NULL, &out), BANGUI_RESULT_NULL_ARGUMENT,
         "machine: must not be NULL");
  expect("state_json(.., NULL)", bangui_machine_state_json(m, NULL), BANGUI_RESULT_NULL_ARGUMENT,
         "state_json_out: must not be NULL");
  expect("effective_settings(NULL)", bangui_machine_effective_settings_json(NULL, &out),
         BANGUI_RESULT_NULL_ARGUMENT, "machine: must not be NULL");
  expect("effective_settings(.., NULL)", bangui_machine_effective_settings_json(m, NULL),
         BANGUI_RESULT_NULL_ARGUMENT, "settings_json_out: must not be NULL");
  CHECK(out == sentinel, "an output string was written on failure");

  uint64_t revision = 42;
  expect("revision(NULL)", bangui_machine_revision(NULL, &revision), BANGUI_RESULT_NULL_ARGUMENT,
         "machine: must not be NULL");
  expect("revision(.., NULL)", bangui_machine_revision(m, NULL), BANGUI_RESULT_NULL_ARGUMENT,
         "revision_out: must not be NULL");
  CHECK(revision == 42, "revision_out was written on failure");

  bool has = true;
  int64_t at = 7;
  expect("next_deadline(NULL)", bangui_machine_next_deadline(NULL, NOW, &has, &at), BANGUI_RESULT_NULL_ARGUMENT,
         "machine: must not be NULL");
  expect("next_deadline(has NULL)", bangui_machine_next_deadline(m, NOW, NULL, &at), BANGUI_RESULT_NULL_ARGUMENT,
         "has_deadline_out: must not be NULL");
  expect("next_deadline(at NULL)", bangui_machine_next_deadline(m, NOW, &has, NULL),
         BANGUI_RESULT_NULL_ARGUMENT, "deadline_out: must not be NULL");
  CHECK(has && at == 7, "next_deadline outputs were written on failure");

  int64_t micros = 5;
  expect("parse(NULL)", bangui_instant_parse_rfc3339(NULL, &micros), BANGUI_RESULT_NULL_ARGUMENT,
         "text: must not be NULL");
  expect("parse(.., NULL)", bangui_instant_parse_rfc3339("2026-04-27T16:42:00Z", NULL),
         BANGUI_RESULT_NULL_ARGUMENT, "unix_micros_out: must not be NULL");
  CHECK(micros == 5, "unix_micros_out was written on failure");

  size_t written = 3;
  CHECK(bangui_last_error_copy(NULL, 10, &written) == BANGUI_RESULT_NULL_ARGUMENT, "last_error_copy(NULL buf)");
  char buf[8];
  CHECK(bangui_last_error_copy(buf, sizeof buf, NULL) == BANGUI_RESULT_NULL_ARGUMENT,
        "last_error_copy(NULL written)");
  CHECK(written == 3, "written_out was written on failure");

  /* The free functions accept NULL. */
  bangui_machine_free(NULL);
  bangui_string_free(NULL);
}

static void bad_text(void) {
  char *out = NULL;
  expect("invalid UTF-8 event", bangui_machine_step(m, "{\"type\": \"jail_activated\", \"jail_name\": \"\xff\"}",
                                                    NOW, &out),
         BANGUI_RESULT_INVALID_UTF8, "event_json: invalid UTF-8 at byte 41");
  expect("invalid UTF-8 version",
         bangui_machine_health_probe(m, true, "1.\xc3(", 1, NOW, &(bangui_probe_report){0}, NULL),
         BANGUI_RESULT_INVALID_UTF8, "version: invalid UTF-8 at byte 2");
  bangui_machine *made = NULL;
  expect("invalid UTF-8 bootstrap", bangui_machine_new("{\"\xed\xa0\x80\": 1}", &made), BANGUI_RESULT_INVALID_UTF8,
         "bootstrap_json: invalid UTF-8 at byte 2");
  expect_prefix("truncated event JSON",
                bangui_machine_step(m, "{\"type\": \"jail_activated\", \"jail_na", NOW, &out),
                BANGUI_RESULT_INVALID_JSON, "");
  expect_prefix("empty event", bangui_machine_step(m, "", NOW, &out), BANGUI_RESULT_INVALID_JSON, "");
  expect_prefix("truncated bootstrap", bangui_machine_new("{\"session_cache_enabled\": tr", &made),
                BANGUI_RESULT_INVALID_JSON, "");
  expect_prefix("truncated state", bangui_machine_restore("{\"schema_version\": 1,", &made),
                BANGUI_RESULT_INVALID_JSON, "");
  CHECK(made == NULL, "machine_out was written on failure");
  CHECK(out == NULL, "effects_json_out was written on failure");
}

static void bad_values(void) {
  char *out = NULL;
  expect("wrong type",
         bangui_machine_step(m, "{\"type\": \"health_probe_completed\", \"status\": {\"online\": \"yes\"}}", NOW,
                             &out),
         BANGUI_RESULT_INVALID_EVENT, "event.status.online: expected a boolean, found a string");
  expect("unknown event type", bangui_machine_step(m, "{\"type\": \"nope\"}", NOW, &out),
         BANGUI_RESULT_INVALID_EVENT,
         "event.type: unknown event type \"nope\"; expected one of: health_probe_completed, jail_activated, "
         "pending_recovery_created, pending_recovery_cleared, activation_cleared, runtime_settings_set, "
         "settings_updated, setup_completion_cached, backend_probe_requested, backend_probe_completed, "
         "backend_probe_failed, backend_capability_reset");
  expect_prefix("event not an object", bangui_machine_step(m, "[1, 2]", NOW, &out), BANGUI_RESULT_INVALID_EVENT,
                "event");
  expect_prefix("now out of range", bangui_machine_step(m, "{\"type\": \"activation_cleared\"}", INT64_MAX, &out),
                BANGUI_RESULT_INVALID_INSTANT, "now: 9223372036854775807 Unix microseconds is outside");
  expect_prefix("probe now out of range",
                bangui_machine_health_probe(m, true, NULL, 0, INT64_MIN, &(bangui_probe_report){0}, NULL),
                BANGUI_RESULT_INVALID_INSTANT, "now: ");
  bool has = false;
  int64_t at = 0;
  expect_prefix("deadline now out of range", bangui_machine_next_deadline(m, INT64_MIN, &has, &at),
                BANGUI_RESULT_INVALID_INSTANT, "now: ");
  int64_t micros = 0;
  expect_prefix("bad RFC 3339", bangui_instant_parse_rfc3339("yesterday", &micros), BANGUI_RESULT_INVALID_INSTANT,
                "expected an RFC 3339 instant");
  bangui_machine *made = NULL;
  expect_prefix("bootstrap missing keys", bangui_machine_new("{}", &made), BANGUI_RESULT_INVALID_SETTINGS,
                "bootstrap.");
  expect_prefix("bootstrap mistyped", bangui_machine_new("{\"session_cache_enabled\": 1, \"session_cache_ttl_seconds\": 1}", &made),
                BANGUI_RESULT_INVALID_SETTINGS, "bootstrap.session_cache_enabled: ");

  /* Unknown schema version: take the real state and bump its version. */
  char *state = state_of(m);
  const char *key = "\"schema_version\":1";
  char *found = strstr(state, key);
  REQUIRE(found != NULL, "state JSON has %s: %s", key, state);
  found[strlen(key) - 1] = '7';
  expect("unknown schema version", bangui_machine_restore(state, &made), BANGUI_RESULT_UNKNOWN_SCHEMA_VERSION,
         "state.schema_version: unknown schema version 7; this build reads version 1");
  expect_prefix("state not an object", bangui_machine_restore("42", &made), BANGUI_RESULT_INVALID_STATE, "state");
  bangui_string_free(state);
  CHECK(made == NULL, "machine_out was written on failure");
}

static void revision_exhausted(void) {
  char *state = state_of(m);
  const char *key = "\"revision\":";
  char *found = strstr(state, key);
  REQUIRE(found != NULL, "state JSON has a revision");
  char *end = found + strlen(key);
  while (*end >= '0' && *end <= '9') end++;
  size_t head = (size_t)(found - state) + strlen(key);
  char *edited = malloc(strlen(state) + 32);
  REQUIRE(edited != NULL, "malloc");
  snprintf(edited, strlen(state) + 32, "%.*s18446744073709551615%s", (int)head, state, end);
  bangui_machine *full = NULL;
  REQUIRE(bangui_machine_restore(edited, &full) == BANGUI_RESULT_OK, "restore at max revision: %s", last_error());
  bangui_machine *saved = m;
  char *saved_snapshot = snapshot;
  m = full;
  snapshot = state_of(m);
  char *out = NULL;
  expect("step at max revision", bangui_machine_step(m, "{\"type\": \"activation_cleared\"}", NOW, &out),
         BANGUI_RESULT_REVISION_EXHAUSTED, "state.revision: at its maximum; no further event can be counted");
  expect("probe at max revision",
         bangui_machine_health_probe(m, true, NULL, 0, NOW, &(bangui_probe_report){0}, &out),
         BANGUI_RESULT_REVISION_EXHAUSTED, "state.revision: at its maximum; no further event can be counted");
  CHECK(out == NULL, "effects written on failure");
  bangui_string_free(snapshot);
  bangui_machine_free(full);
  m = saved;
  snapshot = saved_snapshot;
  free(edited);
  bangui_string_free(state);
}

static void last_error_copy(void) {
  char *out = NULL;
  bangui_result rc = bangui_machine_step(m, "{\"type\": 5}", NOW, &out);
  CHECK(rc == BANGUI_RESULT_INVALID_EVENT, "type 5: %s", bangui_result_name(rc));
  const char *message = last_error();
  size_t len = strlen(message);
  char small[4] = "abc";
  size_t written = 99;
  CHECK(bangui_last_error_copy(small, sizeof small, &written) == BANGUI_RESULT_INSUFFICIENT_BUFFER,
        "a short buffer is refused");
  CHECK(strcmp(small, "abc") == 0 && written == 99, "nothing is written to a short buffer");
  char big[512];
  CHECK(bangui_last_error_copy(big, sizeof big, &written) == BANGUI_RESULT_OK, "copy into a big buffer");
  CHECK(written == len && strcmp(big, last_error()) == 0, "copied message: %s", big);
  CHECK(strcmp(bangui_result_name(42), "BANGUI_RESULT_UNKNOWN") == 0, "unknown code name");
}

int main(void) {
  REQUIRE(bangui_machine_new(BOOT, &m) == BANGUI_RESULT_OK, "new: %s", last_error());
  char *effects = NULL;
  REQUIRE(bangui_machine_step(m, "{\"type\": \"jail_activated\", \"jail_name\": \"sshd\"}", NOW, &effects) ==
              BANGUI_RESULT_OK,
          "step: %s", last_error());
  bangui_string_free(effects);
  snapshot = state_of(m);
  null_arguments();
  bad_text();
  bad_values();
  revision_exhausted();
  last_error_copy();
  bangui_string_free(snapshot);
  bangui_machine_free(m);
  return finish("c-bad-inputs");
}
