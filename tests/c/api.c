/*
 * The C API's good paths: the typed health-probe fast path gives the same
 * effects and state as stepping the JSON event; restore round-trips; the next
 * deadline, effective settings, revision and version.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"

#define SEC INT64_C(1000000)
#define T0 INT64_C(1777308120000000) /* 2026-04-27T16:42:00Z */
#define BOOT "{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 3600}"

static bool same_json(const char *a, const char *b) {
  cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
  bool same = x && y && cJSON_Compare(x, y, true);
  cJSON_Delete(x);
  cJSON_Delete(y);
  return same;
}

static char *step(bangui_machine *m, const char *event, int64_t now) {
  char *effects = NULL;
  REQUIRE(bangui_machine_step(m, event, now, &effects) == BANGUI_RESULT_OK, "step %s: %s", event, last_error());
  return effects;
}

/* One probe on both machines: fast path on `fast`, JSON on `slow`. */
static void probe_both(bangui_machine *fast, bangui_machine *slow, bool online, const char *version,
                       uint64_t jails, int64_t now, uint32_t expected_logs) {
  char event[256];
  snprintf(event, sizeof event,
           "{\"type\": \"health_probe_completed\", \"status\": {\"online\": %s, \"version\": %s%s%s, "
           "\"active_jails\": %llu}}",
           online ? "true" : "false", version ? "\"" : "", version ? version : "null", version ? "\"" : "",
           (unsigned long long)jails);
  char *slow_effects = step(slow, event, now);
  bangui_probe_report report = {0, -1.0, 0};
  char *fast_effects = (char *)"sentinel";
  bangui_result rc = bangui_machine_health_probe(fast, online, version, jails, now, &report, &fast_effects);
  REQUIRE(rc == BANGUI_RESULT_OK, "probe: %s", last_error());
  CHECK(report.logs == expected_logs, "logs 0x%x, expected 0x%x", report.logs, expected_logs);
  uint64_t revision = 0;
  bangui_machine_revision(slow, &revision);
  CHECK(report.revision == revision, "report revision %llu, expected %llu", (unsigned long long)report.revision,
        (unsigned long long)revision);
  if (expected_logs == BANGUI_LOG_HEALTH_CHECK_COMPLETE) {
    CHECK(fast_effects == NULL, "the steady state returns no effects JSON");
    /* ...and the library gives them on request, from the probe's arguments alone. */
    char *steady = NULL;
    REQUIRE(bangui_health_probe_steady_effects_json(online, version, jails, &steady) == BANGUI_RESULT_OK,
            "steady effects: %s", last_error());
    CHECK(same_json(steady, slow_effects), "steady effects %s\n json effects %s", steady, slow_effects);
    bangui_string_free(steady);
  } else {
    CHECK(fast_effects != NULL && same_json(fast_effects, slow_effects), "fast effects %s\n json effects %s",
          fast_effects ? fast_effects : "(null)", slow_effects);
  }
  char *a = state_of(fast), *b = state_of(slow);
  CHECK(strcmp(a, b) == 0, "states differ after a probe\n fast: %s\n json: %s", a, b);
  bangui_string_free(a);
  bangui_string_free(b);
  bangui_string_free(fast_effects);
  bangui_string_free(slow_effects);
}

static void fast_path_matches_the_json_path(void) {
  bangui_machine *fast = NULL, *slow = NULL;
  REQUIRE(bangui_machine_new(BOOT, &fast) == BANGUI_RESULT_OK, "new");
  REQUIRE(bangui_machine_new(BOOT, &slow) == BANGUI_RESULT_OK, "new");
  const uint32_t done = BANGUI_LOG_HEALTH_CHECK_COMPLETE;
  probe_both(fast, slow, true, "1.1.0", 2, T0, BANGUI_LOG_FAIL2BAN_CAME_ONLINE | done);
  probe_both(fast, slow, true, "1.1.0", 2, T0 + SEC, done);
  const char *activate = "{\"type\": \"jail_activated\", \"jail_name\": \"sshd\"}";
  bangui_string_free(step(fast, activate, T0 + 2 * SEC));
  bangui_string_free(step(slow, activate, T0 + 2 * SEC));
  probe_both(fast, slow, false, NULL, 0, T0 + 14 * SEC,
             BANGUI_LOG_FAIL2BAN_WENT_OFFLINE | BANGUI_LOG_ACTIVATION_CRASH_DETECTED | done);
  probe_both(fast, slow, false, NULL, 0, T0 + 15 * SEC, done);
  probe_both(fast, slow, true, "1.1.1", 3, T0 + 40 * SEC,
             BANGUI_LOG_FAIL2BAN_CAME_ONLINE | BANGUI_LOG_PENDING_RECOVERY_RESOLVED | done);
  probe_both(fast, slow, false, NULL, 0, T0 + 600 * SEC, BANGUI_LOG_FAIL2BAN_WENT_OFFLINE | done);
  probe_both(fast, slow, true, "", UINT64_MAX, T0 + 601 * SEC, BANGUI_LOG_FAIL2BAN_CAME_ONLINE | done);

  /* seconds_since_activation is reported on the fast path. */
  bangui_string_free(step(fast, activate, T0 + 700 * SEC));
  bangui_probe_report report;
  REQUIRE(bangui_machine_health_probe(fast, false, NULL, 0, T0 + 712 * SEC + 500000, &report, NULL) ==
              BANGUI_RESULT_OK,
          "probe");
  CHECK(report.seconds_since_activation == 12.5, "seconds_since_activation %f", report.seconds_since_activation);
  bangui_machine_free(fast);
  bangui_machine_free(slow);
}

static void restore_round_trips(void) {
  bangui_machine *m = NULL, *copy = NULL;
  REQUIRE(bangui_machine_new(BOOT, &m) == BANGUI_RESULT_OK, "new");
  bangui_string_free(step(m, "{\"type\": \"jail_activated\", \"jail_name\": \"sshd\"}", T0));
  bangui_string_free(step(m, "{\"type\": \"backend_probe_requested\"}", T0 + SEC));
  char *state = state_of(m);
  REQUIRE(bangui_machine_restore(state, &copy) == BANGUI_RESULT_OK, "restore: %s", last_error());
  char *again = state_of(copy);
  CHECK(strcmp(state, again) == 0, "restore round-trips the state JSON byte for byte");
  uint64_t revision = 0;
  CHECK(bangui_machine_revision(copy, &revision) == BANGUI_RESULT_OK && revision == 2, "revision %llu",
        (unsigned long long)revision);

  bool has = false;
  int64_t at = 0;
  CHECK(bangui_machine_next_deadline(copy, T0 + 2 * SEC, &has, &at) == BANGUI_RESULT_OK, "deadline");
  CHECK(has && at == T0 + 31 * SEC, "the stale-probe deadline comes first: %lld", (long long)at);
  CHECK(bangui_machine_next_deadline(copy, T0 + 40 * SEC, &has, &at) == BANGUI_RESULT_OK, "deadline");
  CHECK(has && at == T0 + 60 * SEC, "then the crash window's end: %lld", (long long)at);
  CHECK(bangui_machine_next_deadline(copy, T0 + 61 * SEC, &has, &at) == BANGUI_RESULT_OK, "deadline");
  CHECK(!has && at == 0, "then none");

  char *settings = NULL;
  CHECK(bangui_machine_effective_settings_json(copy, &settings) == BANGUI_RESULT_OK, "settings");
  CHECK(same_json(settings, BOOT), "effective settings are the bootstrap ones: %s", settings);
  bangui_string_free(settings);
  bangui_string_free(step(copy, "{\"type\": \"runtime_settings_set\", \"settings\": {\"session_cache_enabled\": "
                                "false, \"session_cache_ttl_seconds\": 5, \"k\": [1]}}",
                          T0 + 2 * SEC));
  CHECK(bangui_machine_effective_settings_json(copy, &settings) == BANGUI_RESULT_OK, "settings");
  CHECK(same_json(settings, "{\"session_cache_enabled\": false, \"session_cache_ttl_seconds\": 5, \"k\": [1]}"),
        "effective settings are the runtime ones: %s", settings);
  bangui_string_free(settings);

  int64_t micros = 0;
  CHECK(bangui_instant_parse_rfc3339("2026-04-27T18:42:00.0000009+02:00", &micros) == BANGUI_RESULT_OK &&
            micros == T0,
        "RFC 3339 with an offset, truncated: %lld", (long long)micros);
  CHECK(strlen(bangui_version()) > 0 && strchr(bangui_version(), '.') != NULL, "version %s", bangui_version());
  CHECK(strcmp(last_error(), "") == 0, "no error after successes: %s", last_error());
  bangui_string_free(state);
  bangui_string_free(again);
  bangui_machine_free(m);
  bangui_machine_free(copy);
}

int main(void) {
  fast_path_matches_the_json_path();
  restore_round_trips();
  return finish("c-api");
}
