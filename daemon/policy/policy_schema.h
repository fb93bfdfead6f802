// PolicySchema and CheckPolicyStructure: a policy document's shape, derived from the settings
// tables of a ModuleRegistry (module_registry.h), as a JSON Schema and as a check.
//
//   nlohmann::json schema = policy::PolicySchema(modules::BuiltInModules());  // draft 2020-12
//   for (const policy::Violation& v : policy::CheckPolicyStructure(doc, registry)) {
//     fmt::print("{}: {}\n", v.path, v.message);  // "/modules/0/format: expected ..."
//   }
//
// Both walk the same tables, so a document the schema accepts is one the check accepts, and the
// other way round (tests/integration/manuals_test.cc holds them to it with a third-party
// validator). The check sees shape only: JSON types, the choices of enums, ranges, required and
// unknown keys, at every depth. What only a module knows (a syscall or errno name, a path
// pattern, "give exactly one of syscall or syscalls") stays with the module's factory, which
// runs after it (PolicySet::FromJson). docs/policy.schema.json is PolicySchema of the built-in
// modules, checked in; the PolicySchema test fails when it differs.
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/policy/module_registry.h"

namespace hijack::policy {

nlohmann::json PolicySchema(const ModuleRegistry& registry);

// One way a document departs from the shape: the JSON Pointer of the offending value (or of
// the missing key) and what is wrong, in the words of ConfigReader's errors.
struct Violation {
  std::string path;
  std::string message;
};

// Every violation, in document order; empty when the document has the shape.
std::vector<Violation> CheckPolicyStructure(const nlohmann::json& doc,
                                            const ModuleRegistry& registry);

// The same for a policy file. A file that cannot be read or parsed yields no violations: its
// reader (PolicySet::FromFile) says why, in the words it always has.
std::vector<Violation> CheckPolicyFile(const std::string& path, const ModuleRegistry& registry);

}  // namespace hijack::policy
