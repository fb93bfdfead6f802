// FuzzRegistry: the built-in modules, with the settings that reach outside the process made
// inert, for fuzz targets that load policies.
//
//   auto set = policy::PolicySet::FromText(text, "fuzz", FuzzRegistry());
//
// A fuzzer mutates "output": "t.jsonl" into "/bin/sh" sooner or later; run as root, the trace
// module would truncate it. So trace's "output" and exec_guard's "log" (when strings) become
// /dev/null and a plugin's "path" becomes empty (refused before any policy host starts).
// Everything else, including every other check of those modules, runs as in hijackd.
#pragma once

#include "daemon/policy/module_registry.h"

namespace hijack::fuzz {

const policy::ModuleRegistry& FuzzRegistry();

}  // namespace hijack::fuzz
