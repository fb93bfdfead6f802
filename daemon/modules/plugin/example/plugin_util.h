/* plugin_util.h: the parts every small C plugin writes the same way, beside the example plugin
 * that shows them in use (example_plugin.c). Copy it with the example: it needs only the C
 * library and include/hijack/plugin.h.
 *
 *   char name[32];
 *   if (plugin_config_string(config_json, "syscall", name, sizeof name) != 0) { ...refuse... }
 *   int ms = plugin_config_int(config_json, "sleep_ms", -1);        // -1: absent or not a number
 *   ...
 *   HIJACK_PLUGIN_V1("sleep", create, destroy, describe, decide, plugin_observe_nothing,
 *                    plugin_no_stats)
 *
 * The config arrives as the JSON text of the policy's "config" object. These readers scan a
 * flat object with a few lines of string matching, to stay dependency-free: no nesting, no
 * escapes inside strings. A plugin with a richer config should use a JSON library.
 *
 * Threads: the readers are pure functions of their arguments; the ABI's threading rules are in
 * include/hijack/plugin.h.
 */
#ifndef HIJACK_PLUGIN_EXAMPLE_PLUGIN_UTIL_H_
#define HIJACK_PLUGIN_EXAMPLE_PLUGIN_UTIL_H_

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hijack/plugin.h"

/* Just after the quoted "key" in `json`, or NULL when the key is missing. */
static inline const char* plugin_config_key(const char* json, const char* key) {
  char quoted[64];
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  const char* p = strstr(json, quoted);
  return p == NULL ? NULL : p + strlen(quoted);
}

/* The string value of "key", copied into out (outlen bytes with the NUL). 0, or -1 when the key
 * is missing, its value is not a string, or the string does not fit. */
static inline int plugin_config_string(const char* json, const char* key, char* out,
                                       size_t outlen) {
  const char* p = plugin_config_key(json, key);
  if (p == NULL || (p = strchr(p, '"')) == NULL) {
    return -1;
  }
  const char* end = strchr(p + 1, '"');
  if (end == NULL || (size_t)(end - p - 1) >= outlen) {
    return -1;
  }
  memcpy(out, p + 1, (size_t)(end - p - 1));
  out[end - p - 1] = '\0';
  return 0;
}

/* The non-negative integer value of "key"; `fallback` when the key is missing, -1 when its
 * value is not a number. */
static inline int plugin_config_int(const char* json, const char* key, int fallback) {
  const char* p = plugin_config_key(json, key);
  if (p == NULL || (p = strchr(p, ':')) == NULL) {
    return fallback;
  }
  while (isspace((unsigned char)*++p)) {
  }
  return isdigit((unsigned char)*p) ? atoi(p) : -1;
}

/* The strings of the array under "key", into `max` slots of `len` bytes each, starting at out:
 * how many; 0 when the key is missing, -1 when its value is not an array of strings that fit. */
static inline int plugin_config_strings(const char* json, const char* key, char* out, int max,
                                        size_t len) {
  const char* p = plugin_config_key(json, key);
  if (p == NULL) {
    return 0;
  }
  if ((p = strchr(p, '[')) == NULL) {
    return -1;
  }
  int n = 0;
  for (++p; *p != '\0' && *p != ']'; ++p) {
    if (*p != '"') {
      continue;
    }
    const char* end = strchr(p + 1, '"');
    if (end == NULL || n == max || (size_t)(end - p - 1) >= len) {
      return -1;
    }
    char* slot = out + (size_t)n * len;
    memcpy(slot, p + 1, (size_t)(end - p - 1));
    slot[end - p - 1] = '\0';
    ++n;
    p = end;
  }
  return n;
}

/* create()'s refusal: writes the reason (a printf format and its arguments) into err[0..errlen),
 * frees the half-made instance (NULL is fine) and returns NULL, which create() returns. */
static inline void* plugin_refuse(void* instance, char* err, size_t errlen, const char* format,
                                  ...) __attribute__((format(printf, 4, 5)));
static inline void* plugin_refuse(void* instance, char* err, size_t errlen, const char* format,
                                  ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(err, errlen, format, args);
  va_end(args);
  free(instance);
  return NULL;
}

/* The describe() of a plugin that decides one syscall, by name, and needs no arguments. */
static inline int plugin_describe_one(const char* syscall_name, char* out, size_t outlen) {
  return snprintf(out, outlen, "{\"syscalls\": [\"%s\"], \"wants_arguments\": false}",
                  syscall_name);
}

/* observe() and stats() for a plugin that keeps no counts. */
static inline void plugin_observe_nothing(void* instance, const struct hijack_call_v1* call,
                                          const struct hijack_outcome_v1* outcome) {
  (void)instance;
  (void)call;
  (void)outcome;
}

static inline int plugin_no_stats(void* instance, char* out, size_t outlen) {
  (void)instance;
  return snprintf(out, outlen, "{}");
}

/* The one symbol hijack looks up (dlsym "hijack_plugin_v1"): the ABI version and the table's
 * size, so that hijack can refuse a plugin built against another header, the module's name and
 * its seven entry points, in the order of struct hijack_plugin_v1. */
#define HIJACK_PLUGIN_V1(name, create, destroy, describe, decide, observe, stats)           \
  HIJACK_PLUGIN_EXPORT const struct hijack_plugin_v1* hijack_plugin_v1(void) {              \
    static const struct hijack_plugin_v1 plugin = {HIJACK_PLUGIN_ABI_VERSION,               \
                                                   sizeof(struct hijack_plugin_v1), (name), \
                                                   (create), (destroy), (describe),         \
                                                   (decide), (observe), (stats)};           \
    return &plugin;                                                                         \
  }

#endif /* HIJACK_PLUGIN_EXAMPLE_PLUGIN_UTIL_H_ */
