/* example_plugin: a template for third-party hijack policy modules, in plain C.
 *
 * It fails the system calls named in its config with an errno, and counts what it saw:
 *
 *   {"module": "plugin", "path": ".../libhijack_example_plugin.so",
 *    "config": {"deny": ["getppid", "ptrace"], "errno": 1}, "on_failure": "deny"}
 *
 * Copy this directory, rename the target, and change decide(). Only include/hijack/plugin.h is
 * needed to build it; see CMakeLists.txt here. The config arrives as JSON text; this example
 * reads it with a few lines of string scanning to stay dependency-free; a real plugin would use
 * a JSON library.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hijack/plugin.h"

#define MAX_DENIED 32
#define NAME_LEN 32

struct example {
  char denied[MAX_DENIED][NAME_LEN];
  int n_denied;
  int err;
  unsigned long long decided, failed, observed;
};

/* The strings of the JSON array under "key" in `json` (a flat config object). */
static int read_string_array(const char* json, const char* key, char out[][NAME_LEN], int max) {
  char quoted[64];
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  const char* p = strstr(json, quoted);
  if (p == NULL) {
    return 0;
  }
  p = strchr(p + strlen(quoted), '[');
  if (p == NULL) {
    return -1;
  }
  int n = 0;
  for (++p; *p != '\0' && *p != ']'; ++p) {
    if (*p != '"') {
      continue;
    }
    const char* end = strchr(p + 1, '"');
    if (end == NULL || n == max || end - p - 1 >= NAME_LEN) {
      return -1;
    }
    memcpy(out[n], p + 1, (size_t)(end - p - 1));
    out[n][end - p - 1] = '\0';
    ++n;
    p = end;
  }
  return n;
}

static int read_int(const char* json, const char* key, int fallback) {
  char quoted[64];
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  const char* p = strstr(json, quoted);
  if (p == NULL) {
    return fallback;
  }
  p = strchr(p + strlen(quoted), ':');
  if (p == NULL) {
    return fallback;
  }
  while (isspace((unsigned char)*++p)) {
  }
  return isdigit((unsigned char)*p) ? atoi(p) : -1;
}

static void* create(const char* config_json, char* err, size_t errlen) {
  struct example* e = calloc(1, sizeof *e);
  if (e == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  e->n_denied = read_string_array(config_json, "deny", e->denied, MAX_DENIED);
  if (e->n_denied < 0) {
    snprintf(err, errlen, "\"deny\" must be a list of at most %d syscall names", MAX_DENIED);
    free(e);
    return NULL;
  }
  e->err = read_int(config_json, "errno", EPERM);
  if (e->err < 1 || e->err > 4095) {
    snprintf(err, errlen, "\"errno\" must be a number in 1..4095");
    free(e);
    return NULL;
  }
  return e;
}

static void destroy(void* instance) { free(instance); }

static int describe(void* instance, char* out, size_t outlen) {
  struct example* e = instance;
  char list[MAX_DENIED * (NAME_LEN + 3) + 1] = "";
  for (int i = 0; i < e->n_denied; ++i) {
    strcat(list, i == 0 ? "\"" : ",\"");
    strcat(list, e->denied[i]);
    strcat(list, "\"");
  }
  return snprintf(out, outlen,
                  "{\"syscalls\": [%s], \"wants_arguments\": false, "
                  "\"summary\": \"fails the listed calls with errno %d\"}",
                  list, e->err);
}

static int decide(void* instance, const struct hijack_call_v1* call,
                  struct hijack_verdict_v1* verdict) {
  struct example* e = instance;
  ++e->decided;
  for (int i = 0; i < e->n_denied; ++i) {
    if (strcmp(call->syscall_name, e->denied[i]) == 0) {
      ++e->failed;
      verdict->kind = HIJACK_VERDICT_FAIL;
      verdict->error = e->err;
      return 0;
    }
  }
  verdict->kind = HIJACK_VERDICT_NONE;
  return 0;
}

static void observe(void* instance, const struct hijack_call_v1* call,
                    const struct hijack_outcome_v1* outcome) {
  (void)call;
  (void)outcome;
  ++((struct example*)instance)->observed;
}

static int stats(void* instance, char* out, size_t outlen) {
  struct example* e = instance;
  return snprintf(out, outlen, "{\"decided\": %llu, \"failed\": %llu, \"observed\": %llu}",
                  e->decided, e->failed, e->observed);
}

HIJACK_PLUGIN_EXPORT const struct hijack_plugin_v1* hijack_plugin_v1(void) {
  static const struct hijack_plugin_v1 plugin = {
      HIJACK_PLUGIN_ABI_VERSION, sizeof(struct hijack_plugin_v1), "example", create, destroy,
      describe, decide, observe, stats};
  return &plugin;
}
