/* hijack_plugin_v1: the C ABI of third-party policy modules.
 *
 * A plugin is a shared object that exports one function, `hijack_plugin_v1`, returning a
 * descriptor of its entry points. hijackd never loads it into itself: a policy-host helper
 * process (hijack-policy-host) dlopen()s it, and the daemon asks that helper to decide calls, so
 * a plugin that crashes takes down only its helper (restarted; meanwhile its calls get the
 * policy's on_failure). Only C types cross this boundary, so a plugin built by another compiler,
 * or in C, loads as long as it follows the x86-64 System V ABI.
 *
 *   #include "hijack/plugin.h"
 *   static void* create(const char* config_json, char* err, size_t errlen) { ... }
 *   ...
 *   HIJACK_PLUGIN_EXPORT const struct hijack_plugin_v1* hijack_plugin_v1(void) {
 *     static const struct hijack_plugin_v1 p = {HIJACK_PLUGIN_ABI_VERSION,
 *         sizeof(struct hijack_plugin_v1), "example", create, destroy, describe, decide, observe};
 *     return &p;
 *   }
 *
 * A policy names it:
 *   {"module": "plugin", "path": "/opt/p/libexample.so", "config": {...}, "on_failure": "deny"}
 *
 * Versioning: abi_version must equal HIJACK_PLUGIN_ABI_VERSION of the daemon, or the plugin is
 * refused with a message naming the file and both versions. Any change to these structs bumps
 * the version (and the symbol name: hijack_plugin_v2).
 *
 * Threads: the helper calls every entry point of one instance from one thread. Entry points must
 * not keep pointers they were given beyond the call.
 */
#ifndef HIJACK_PLUGIN_H_
#define HIJACK_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIJACK_PLUGIN_ABI_VERSION 1
#define HIJACK_PLUGIN_SYMBOL "hijack_plugin_v1"
#define HIJACK_PLUGIN_EXPORT __attribute__((visibility("default")))

/* One intercepted call, as the daemon received it. */
struct hijack_call_v1 {
  uint64_t guest_id; /* the supervisor's id of the guest */
  int32_t pid;       /* thread group id */
  int32_t tid;       /* calling thread */
  int32_t nr;        /* x86-64 system call number */
  uint32_t arch;     /* AUDIT_ARCH_* */
  uint64_t args[6];  /* raw arguments: guest addresses are not readable by the plugin */
  /* The arguments decoded by the daemon (paths read from the guest, flags made symbolic), as a
   * JSON array, when the plugin's describe() asked for them ("wants_arguments": true); else
   * NULL. Valid during the call only. */
  const char* args_json;
  const char* syscall_name; /* "openat" */
};

/* What decide() answers. */
enum hijack_verdict_kind_v1 {
  HIJACK_VERDICT_NONE = 0,     /* no opinion: the next module decides */
  HIJACK_VERDICT_CONTINUE = 1, /* run the call (and stop asking further modules) */
  HIJACK_VERDICT_FAIL = 2,     /* do not run it; fail with `error` (an errno, > 0) */
  HIJACK_VERDICT_RETURN = 3,   /* do not run it; return `value` */
};

struct hijack_verdict_v1 {
  int32_t kind;      /* enum hijack_verdict_kind_v1 */
  int32_t error;     /* HIJACK_VERDICT_FAIL */
  int64_t value;     /* HIJACK_VERDICT_RETURN */
  uint64_t delay_ns; /* hold the call this long before applying the verdict (0: none) */
};

/* The outcome of a call, for observe(). */
struct hijack_outcome_v1 {
  int32_t kind;       /* the verdict kind applied (NONE is reported as CONTINUE) */
  int32_t has_result; /* 1 when `result` is known (calls the supervisor answered) */
  int64_t result;     /* return value, -errno on failure */
};

struct hijack_plugin_v1 {
  uint32_t abi_version; /* HIJACK_PLUGIN_ABI_VERSION */
  uint32_t struct_size; /* sizeof(struct hijack_plugin_v1) */
  const char* name;     /* short name, for messages and stats */

  /* Creates an instance from the policy's "config" object (JSON text, "{}" when absent).
   * Returns NULL on failure, with a NUL-terminated reason in err[0..errlen). */
  void* (*create)(const char* config_json, char* err, size_t errlen);
  void (*destroy)(void* instance);

  /* Writes a JSON object into out[0..outlen) and returns its length (or the length needed, when
   * larger than outlen; negative on failure):
   *   {"syscalls": ["openat", "%net"], "wants_arguments": true, "summary": "..."}
   * "syscalls" (names and %classes, as policies write them) is required: the calls the kernel
   * filter sends to the supervisor for this plugin. */
  int (*describe)(void* instance, char* out, size_t outlen);

  /* Decides one call. The calling guest thread waits for it, up to the policy's timeout_ms
   * (the daemon then gives up and applies on_failure); the daemon's other calls do not (it asks
   * from a worker thread, one call at a time per plugin instance). Returns 0, or negative on
   * failure (on_failure applies). */
  int (*decide)(void* instance, const struct hijack_call_v1* call,
                struct hijack_verdict_v1* verdict);

  /* Sees each completed call of its syscalls, off the guest's path. May be NULL. */
  void (*observe)(void* instance, const struct hijack_call_v1* call,
                  const struct hijack_outcome_v1* outcome);

  /* Counters as a JSON object for GetStats, like describe(). May be NULL. */
  int (*stats)(void* instance, char* out, size_t outlen);
};

/* The one symbol a plugin exports. */
typedef const struct hijack_plugin_v1* (*hijack_plugin_v1_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* HIJACK_PLUGIN_H_ */
