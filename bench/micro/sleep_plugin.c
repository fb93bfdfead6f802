/* sleep_plugin: a plugin whose every decision of one syscall takes `sleep_ms`, then continues.
 * It stands for a slow policy service (a remote lookup, a database) in the decision-pool
 * benchmark (pending_neighbour.cc):
 *
 *   "config": {"syscall": "getppid", "sleep_ms": 20}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hijack/plugin.h"

struct sleeper {
  char syscall_name[32];
  long sleep_ms;
};

static void* create(const char* config_json, char* err, size_t errlen) {
  struct sleeper* s = calloc(1, sizeof *s);
  const char* name = strstr(config_json, "\"syscall\"");
  const char* ms = strstr(config_json, "\"sleep_ms\"");
  if (s == NULL || name == NULL || ms == NULL || (name = strchr(name + 9, '"')) == NULL ||
      (ms = strchr(ms + 10, ':')) == NULL) {
    snprintf(err, errlen, "\"syscall\" (a string) and \"sleep_ms\" (a number) are required");
    free(s);
    return NULL;
  }
  const char* end = strchr(name + 1, '"');
  if (end == NULL || (size_t)(end - name - 1) >= sizeof s->syscall_name) {
    snprintf(err, errlen, "\"syscall\" must be a short string");
    free(s);
    return NULL;
  }
  memcpy(s->syscall_name, name + 1, (size_t)(end - name - 1));
  s->sleep_ms = strtol(ms + 1, NULL, 10);
  return s;
}

static void destroy(void* instance) { free(instance); }

static int describe(void* instance, char* out, size_t outlen) {
  struct sleeper* s = instance;
  return snprintf(out, outlen, "{\"syscalls\": [\"%s\"], \"wants_arguments\": false}",
                  s->syscall_name);
}

static int decide(void* instance, const struct hijack_call_v1* call,
                  struct hijack_verdict_v1* verdict) {
  struct sleeper* s = instance;
  (void)call;
  struct timespec ts = {s->sleep_ms / 1000, (s->sleep_ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
  verdict->kind = HIJACK_VERDICT_CONTINUE;
  return 0;
}

static void observe(void* instance, const struct hijack_call_v1* call,
                    const struct hijack_outcome_v1* outcome) {
  (void)instance;
  (void)call;
  (void)outcome;
}

static int stats(void* instance, char* out, size_t outlen) {
  (void)instance;
  return snprintf(out, outlen, "{}");
}

HIJACK_PLUGIN_EXPORT const struct hijack_plugin_v1* hijack_plugin_v1(void) {
  static const struct hijack_plugin_v1 plugin = {
      HIJACK_PLUGIN_ABI_VERSION, sizeof(struct hijack_plugin_v1), "sleep", create, destroy,
      describe, decide, observe, stats};
  return &plugin;
}
