// PolicySet: one immutable, validated policy: the ordered module instances and the per-syscall
// dispatch tables derived from them.
//
//   Result<std::shared_ptr<const PolicySet>> set =
//       PolicySet::FromJson(doc, modules::BuiltInModules());
//   for (PolicyModule* m : (*set)->DecidersFor(nr)) ...
//
// Validation is complete before anything is returned: the whole document is checked (version,
// keys, every module's settings) and the first error names its JSON path. Readers share
// snapshots through std::shared_ptr<const PolicySet>; nothing in a PolicySet changes after
// FromJson except the modules' own counters.
//
// Text from outside (files, control requests) is bounded before it is parsed: at most
// kMaxPolicyBytes, nesting at most kMaxJsonDepth (bounded_json.h), at most kMaxModules module
// instances; numbers that do not fit a double are errors with their JSON path.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/policy/module_registry.h"
#include "hijack/backend.h"
#include "hijack/policy.h"
#include "hijack/result.h"
#include "common/bounded_file.h"
#include "hijack/syscall_set.h"

namespace hijack::policy {

// The largest policy document (common/bounded_file.h, shared with hijackctl).
using common::kMaxPolicyBytes;
// Module instances in one policy. Each instance keeps per-syscall tables (stats holds 1024
// slots), so a document of 100,000 {"module": "stats"} would cost gigabytes.
inline constexpr size_t kMaxModules = 256;

class PolicySet {
 public:
  // Builds a policy from a parsed document. Errors: "/modules/1/syscalls/0: unknown syscall ...".
  // The document must come from FromText/ParseBoundedJson or from code: its depth is not
  // checked here.
  static Result<std::shared_ptr<PolicySet>> FromJson(const nlohmann::json& doc,
                                                     const ModuleRegistry& registry);
  // Parses text first (bounded: see above); parse errors carry line and column, limit errors
  // the JSON path. `source` names the text in messages.
  static Result<std::shared_ptr<PolicySet>> FromText(std::string_view text, std::string_view source,
                                                     const ModuleRegistry& registry);
  // Reads (ReadBoundedFile: regular files of at most kMaxPolicyBytes) and parses a file;
  // errors start with the file name.
  static Result<std::shared_ptr<PolicySet>> FromFile(const std::string& path,
                                                     const ModuleRegistry& registry);

  // Appends a module instance built outside the document (hijackd run --trace). Only before the
  // set is shared.
  void Append(std::unique_ptr<PolicyModule> module, nlohmann::json config);

  const std::vector<std::unique_ptr<PolicyModule>>& modules() const { return modules_; }
  // Union of what the modules need: the smallest intercept set that serves this policy.
  const SyscallSet& needed() const { return needed_; }
  // Enforcing modules that need `nr`, in policy order.
  std::span<PolicyModule* const> DecidersFor(int nr) const;
  // Every module that needs `nr`, in policy order.
  std::span<PolicyModule* const> ObserversFor(int nr) const;
  bool WantsArguments(int nr) const {
    return nr >= 0 && nr < SyscallSet::kCapacity && wants_args_[static_cast<size_t>(nr)];
  }
  // The largest PolicyModule::ShownBytes() of the modules (0: none asks for more than the
  // decoder's default): what the decoded arguments of every call show of buffers and strings.
  size_t shown_bytes() const { return shown_bytes_; }
  // True when every module that decides `nr` does so only through one page bucket
  // (PolicyModule::PageBuckets), so a guest's agent can shape the call itself.
  bool ShapableInPage(int nr) const { return page_shapable_.Contains(nr); }
  // True when a guest's agent may run `nr` without the supervisor under this policy: nothing
  // decides it (or only page buckets do) and nothing reads its arguments.
  bool AgentMayRun(int nr) const {
    return (DecidersFor(nr).empty() || ShapableInPage(nr)) && !WantsArguments(nr);
  }
  // The page buckets of every module, for the calls ShapableInPage.
  const std::vector<PageBucket>& page_buckets() const { return page_buckets_; }
  // Hands the calls of page_buckets() to the guest's page: their modules stop deciding them.
  // Before the set decides calls of a guest with a page.
  void ShapeInPage() const;

  const nlohmann::json& document() const { return document_; }
  uint64_t version() const { return version_; }
  void set_version(uint64_t v) { version_ = v; }

 private:
  void Index();

  nlohmann::json document_;
  std::vector<std::unique_ptr<PolicyModule>> modules_;
  SyscallSet needed_;
  std::vector<std::vector<PolicyModule*>> deciders_;
  std::vector<std::vector<PolicyModule*>> observers_;
  std::array<bool, SyscallSet::kCapacity> wants_args_{};
  size_t shown_bytes_ = 0;
  SyscallSet page_shapable_;
  std::vector<PageBucket> page_buckets_;
  std::vector<SyscallSet> page_buckets_of_;  // per module: the calls it hands to the page
  uint64_t version_ = 0;
};

}  // namespace hijack::policy
