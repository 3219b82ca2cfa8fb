/*
 * Replays conformance vectors through the C API and compares every step's
 * output with the expected one, as parsed JSON (cJSON_Compare), never bytes.
 *
 * Input: the line format written by vectors_to_lines.py (see there for why
 * Python slices the vectors and C compares): `vectors FILE...`.
 *
 * For each step: `now` is read with bangui_instant_parse_rfc3339 (a bad one is
 * the error "now: <message>", as the core's trace replay words it), the event
 * goes through bangui_machine_step, and then the state JSON is compared.
 * A rejected step must leave the state JSON byte-identical.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"

static char *split(char **rest) {
  char *field = *rest;
  if (field == NULL) return NULL;
  char *tab = strchr(field, '\t');
  if (tab) {
    *tab = '\0';
    *rest = tab + 1;
  } else {
    *rest = NULL;
  }
  return field;
}

static bool json_equal_text(const char *got_text, const cJSON *expected) {
  cJSON *got = cJSON_Parse(got_text);
  bool same = got != NULL && expected != NULL && cJSON_Compare(got, expected, true);
  cJSON_Delete(got);
  return same;
}

int main(int argc, char **argv) {
  int steps = 0, traces = 0, trace_level = 0;
  for (int a = 1; a < argc; a++) {
    FILE *f = fopen(argv[a], "r");
    REQUIRE(f != NULL, "cannot open %s", argv[a]);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    bangui_machine *m = NULL;
    char name[512] = "";
    int step_no = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
      if (line[len - 1] == '\n') line[len - 1] = '\0';
      char *rest = line;
      char *kind = split(&rest);
      if (strcmp(kind, "T") == 0) {
        const char *n = split(&rest);
        const char *bootstrap = split(&rest);
        snprintf(name, sizeof name, "%s", n);
        step_no = 0;
        traces++;
        bangui_result rc = bangui_machine_new(bootstrap, &m);
        REQUIRE(rc == BANGUI_RESULT_OK, "%s: bootstrap rejected: %s", name, last_error());
      } else if (strcmp(kind, "E") == 0) {
        bangui_machine_free(m);
        m = NULL;
      } else if (strcmp(kind, "S") == 0) {
        const char *mode = split(&rest);
        const char *now_text = split(&rest);
        const char *event = split(&rest);
        const char *expected_text = split(&rest);
        REQUIRE(m != NULL && expected_text != NULL, "malformed line in %s", argv[a]);
        step_no++;
        steps++;
        cJSON *expected = cJSON_Parse(expected_text);
        REQUIRE(expected != NULL, "%s step %d: expected output is not JSON", name, step_no);
        const cJSON *exp_effects = cJSON_GetObjectItemCaseSensitive(expected, "effects");
        const cJSON *exp_error = cJSON_GetObjectItemCaseSensitive(expected, "error");
        const cJSON *exp_state = cJSON_GetObjectItemCaseSensitive(expected, "state");
        char *before = state_of(m);
        if (mode[0] == 't') {
          /* Malformed at trace level: the C API has no such step to take. */
          trace_level++;
          CHECK(exp_error != NULL, "%s step %d: a malformed step must be rejected", name, step_no);
        } else {
          int64_t now = 0;
          bangui_result rc = bangui_instant_parse_rfc3339(now_text, &now);
          char *effects = NULL;
          char got_error[4096] = "";
          if (rc != BANGUI_RESULT_OK) {
            snprintf(got_error, sizeof got_error, "now: %s", last_error());
          } else {
            rc = bangui_machine_step(m, event, now, &effects);
            if (rc != BANGUI_RESULT_OK) snprintf(got_error, sizeof got_error, "%s", last_error());
          }
          if (exp_effects != NULL) {
            CHECK(rc == BANGUI_RESULT_OK, "%s step %d: expected effects, got %s: %s", name, step_no,
                  bangui_result_name(rc), got_error);
            if (rc == BANGUI_RESULT_OK) {
              CHECK(json_equal_text(effects, exp_effects), "%s step %d: effects differ\n got: %s", name,
                    step_no, effects);
            }
          } else {
            CHECK(rc != BANGUI_RESULT_OK, "%s step %d: expected an error, got effects %s", name, step_no,
                  effects ? effects : "");
            CHECK(cJSON_IsString(exp_error) && strcmp(got_error, exp_error->valuestring) == 0,
                  "%s step %d: error message differs\n got:      %s\n expected: %s", name, step_no, got_error,
                  cJSON_IsString(exp_error) ? exp_error->valuestring : "(none)");
          }
          bangui_string_free(effects);
        }
        char *after = state_of(m);
        CHECK(json_equal_text(after, exp_state), "%s step %d: state differs\n got: %s", name, step_no, after);
        if (exp_error != NULL) {
          CHECK(strcmp(before, after) == 0, "%s step %d: a rejected step changed the state JSON", name, step_no);
        }
        bangui_string_free(before);
        bangui_string_free(after);
        cJSON_Delete(expected);
      }
    }
    free(line);
    fclose(f);
    bangui_machine_free(m);
  }
  fprintf(stderr, "vectors: %d traces, %d steps (%d malformed at trace level)\n", traces, steps, trace_level);
  CHECK(steps > 0, "no vector step was replayed");
  return finish("c-vectors");
}
