/*
 * Many threads on one handle: `threads` × `iterations` events (default
 * 8 × 10 000), half through the JSON step and half through the typed probe
 * fast path. The final revision must be exactly threads × iterations, every
 * revision a thread sees must grow, and every call must succeed. Run plain,
 * under ASan, under ThreadSanitizer, and (smaller) under valgrind.
 *
 *   threads [THREADS [ITERATIONS]]
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"

#define T0 INT64_C(1777308120000000)

struct worker {
  bangui_machine *m;
  int id;
  long iterations;
  long failures;
};

static void *run(void *arg) {
  struct worker *w = arg;
  uint64_t last = 0;
  char event[128];
  snprintf(event, sizeof event, "{\"type\": \"jail_activated\", \"jail_name\": \"jail-%d\"}", w->id);
  for (long i = 0; i < w->iterations; i++) {
    int64_t now = T0 + (int64_t)i * 1000;
    if (i % 2 == 0) {
      char *effects = NULL;
      if (bangui_machine_step(w->m, event, now, &effects) != BANGUI_RESULT_OK) {
        w->failures++;
        fprintf(stderr, "thread %d: step failed: %s\n", w->id, bangui_last_error_message());
      }
      bangui_string_free(effects);
    } else {
      bangui_probe_report report;
      char *effects = NULL;
      bool online = (i / 2) % 3 != 0;
      if (bangui_machine_health_probe(w->m, online, online ? "1.1.0" : NULL, (uint64_t)w->id, now, &report,
                                      &effects) != BANGUI_RESULT_OK) {
        w->failures++;
        fprintf(stderr, "thread %d: probe failed: %s\n", w->id, bangui_last_error_message());
      } else if (report.revision <= last) {
        w->failures++;
        fprintf(stderr, "thread %d: revision went from %llu to %llu\n", w->id, (unsigned long long)last,
                (unsigned long long)report.revision);
      } else {
        last = report.revision;
      }
      bangui_string_free(effects);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  long iterations = argc > 2 ? atol(argv[2]) : 10000;
  REQUIRE(threads > 0 && threads <= 64 && iterations > 0, "usage: threads [THREADS [ITERATIONS]]");
  bangui_machine *m = NULL;
  REQUIRE(bangui_machine_new("{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 60}", &m) ==
              BANGUI_RESULT_OK,
          "new: %s", bangui_last_error_message());
  pthread_t tid[64];
  struct worker workers[64];
  for (int t = 0; t < threads; t++) {
    workers[t] = (struct worker){m, t, iterations, 0};
    REQUIRE(pthread_create(&tid[t], NULL, run, &workers[t]) == 0, "pthread_create");
  }
  long failures = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    failures += workers[t].failures;
  }
  CHECK(failures == 0, "%ld calls failed", failures);
  uint64_t revision = 0;
  CHECK(bangui_machine_revision(m, &revision) == BANGUI_RESULT_OK, "revision");
  uint64_t expected = (uint64_t)threads * (uint64_t)iterations;
  CHECK(revision == expected, "final revision %llu, expected exactly %llu", (unsigned long long)revision,
        (unsigned long long)expected);
  fprintf(stderr, "threads: %d x %ld events on one handle, final revision %llu\n", threads, iterations,
          (unsigned long long)revision);
  bangui_machine_free(m);
  return finish("c-threads");
}
