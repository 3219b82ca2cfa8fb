/*
 * Benchmarks of the C ABI from a C program: per-call medians of
 *   fast_path        bangui_machine_health_probe, steady state (same status
 *                    each call: no transition), effects pointer NULL
 *   json_step        bangui_machine_step with the same probe as JSON, and
 *                    bangui_string_free of the effects string
 *   steady_effects   bangui_health_probe_steady_effects_json + free (what a
 *                    host pays to get the steady state's effects afterwards)
 *   revision         bangui_machine_revision (the cheapest locked call)
 *
 * Each row: REPEATS runs of ITERATIONS calls timed with
 * clock_gettime(CLOCK_MONOTONIC); the per-call time of each run, then the
 * median of the runs.
 *
 * usage: bench [--quick] [OUT.json]
 *   --quick  tiny counts, no timing claims, no output file (for make test)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bangui_state.h"

#define T0 INT64_C(1777308120000000) /* 2026-04-27T16:42:00Z */
#define PROBE_JSON \
  "{\"type\": \"health_probe_completed\", \"status\": {\"online\": true, \"version\": \"1.1.0\", \"active_jails\": 2}}"

static long iterations = 200000;
static int repeats = 11;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void die(const char *what, bangui_result rc) {
  fprintf(stderr, "bench: %s failed (%d): %s\n", what, (int)rc, bangui_last_error_message());
  exit(1);
}

typedef void (*bench_fn)(bangui_machine *m, long i);

static void fast_path(bangui_machine *m, long i) {
  bangui_probe_report report;
  bangui_result rc = bangui_machine_health_probe(m, true, "1.1.0", 2, T0 + i, &report, NULL);
  if (rc != BANGUI_RESULT_OK || report.logs != BANGUI_LOG_HEALTH_CHECK_COMPLETE) die("health_probe", rc);
}

static void json_step(bangui_machine *m, long i) {
  char *effects = NULL;
  bangui_result rc = bangui_machine_step(m, PROBE_JSON, T0 + i, &effects);
  if (rc != BANGUI_RESULT_OK) die("step", rc);
  bangui_string_free(effects);
}

static void steady_effects(bangui_machine *m, long i) {
  (void)m;
  (void)i;
  char *effects = NULL;
  bangui_result rc = bangui_health_probe_steady_effects_json(true, "1.1.0", 2, &effects);
  if (rc != BANGUI_RESULT_OK) die("steady_effects_json", rc);
  bangui_string_free(effects);
}

static void revision(bangui_machine *m, long i) {
  (void)i;
  uint64_t r;
  bangui_result rc = bangui_machine_revision(m, &r);
  if (rc != BANGUI_RESULT_OK) die("revision", rc);
}

static double median_ns(bench_fn fn, bangui_machine *m) {
  double runs[64];
  for (long i = 0; i < iterations / 10; i++) fn(m, i); /* warm-up */
  for (int r = 0; r < repeats; r++) {
    double start = now_ns();
    for (long i = 0; i < iterations; i++) fn(m, i);
    runs[r] = (now_ns() - start) / (double)iterations;
  }
  qsort(runs, (size_t)repeats, sizeof runs[0], cmp_double);
  return runs[repeats / 2];
}

int main(int argc, char **argv) {
  bool quick = false;
  const char *out_path = NULL;
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--quick") == 0) {
      quick = true;
    } else {
      out_path = argv[a];
    }
  }
  if (quick) {
    iterations = 20;
    repeats = 1;
    out_path = NULL;
  }
  bangui_machine *m = NULL;
  bangui_result rc =
      bangui_machine_new("{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 3600}", &m);
  if (rc != BANGUI_RESULT_OK) die("new", rc);
  /* Online once, so every timed probe is the steady state. */
  bangui_probe_report report;
  rc = bangui_machine_health_probe(m, true, "1.1.0", 2, T0, &report, NULL);
  if (rc != BANGUI_RESULT_OK) die("health_probe", rc);

  struct {
    const char *name;
    bench_fn fn;
    const char *note;
  } rows[] = {
      {"fast_path", fast_path, "bangui_machine_health_probe, steady state, effects pointer NULL"},
      {"json_step", json_step, "bangui_machine_step, the same probe as JSON, + bangui_string_free"},
      {"steady_effects", steady_effects, "bangui_health_probe_steady_effects_json + bangui_string_free"},
      {"revision", revision, "bangui_machine_revision (lock + read)"},
  };
  const size_t n = sizeof rows / sizeof rows[0];
  double medians[sizeof rows / sizeof rows[0]];
  for (size_t r = 0; r < n; r++) {
    medians[r] = median_ns(rows[r].fn, m);
    printf("%-16s %9.1f ns\n", rows[r].name, medians[r]);
  }
  bangui_machine_free(m);
  if (out_path) {
    FILE *f = fopen(out_path, "w");
    if (!f) {
      perror(out_path);
      return 1;
    }
    fprintf(f, "{\"title\": \"C ABI, from a C program (libbangui_state.a, gcc -O2; median of %d runs of %ld calls)\",\n"
               " \"rows\": [\n",
            repeats, iterations);
    for (size_t r = 0; r < n; r++) {
      fprintf(f, "  {\"name\": \"%s\", \"median_ns\": %.2f, \"note\": \"%s\"}%s\n", rows[r].name, medians[r],
              rows[r].note, r + 1 < n ? "," : "");
    }
    fprintf(f, "]}\n");
    fclose(f);
    printf("wrote %s\n", out_path);
  }
  return 0;
}
