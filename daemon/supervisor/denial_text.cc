#include "daemon/supervisor/denial_text.h"

#include <fmt/format.h>

#include "daemon/syscalls/syscall_args.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::supervisor {
namespace {

// What the call acted on, as the decoder showed it: its first path, else a socket address, else
// every argument.
std::string Object(const Event& event) {
  if (const DenialReason* reason = event.decision.reason();
      reason != nullptr && !reason->path.empty()) {
    return nlohmann::json(reason->path).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
  }
  if (event.args.empty()) {
    return "";
  }
  if (std::optional<syscalls::PathArg> path = syscalls::PrimaryPath(event.call);
      path && path->index < event.args.size()) {
    return event.args[path->index].text;
  }
  for (const DecodedArg& arg : event.args) {
    if (arg.json.is_object() && arg.json.contains("family")) {
      return arg.text;  // a socket address
    }
  }
  std::string all;
  for (const DecodedArg& arg : event.args) {
    all += (all.empty() ? "" : ", ") + arg.text;
  }
  return all;
}

}  // namespace

bool IsDenial(const Event& event) {
  return event.decision.kind() == Decision::Kind::kFail && !event.module.empty();
}

std::string DenialText(const Event& event) {
  std::string text =
      fmt::format("{} denied {}({})", event.module, syscalls::SyscallName(event.call.nr),
                  Object(event));
  const DenialReason* reason = event.decision.reason();
  if (reason == nullptr) {
    return text + " with " + ErrnoName(event.decision.error());
  }
  if (!reason->rule.empty()) {
    text += ": " + reason->rule;
  }
  if (reason->would_fail != 0) {
    text += fmt::format(" (the call would have failed with {} anyway)",
                        ErrnoName(reason->would_fail));
  } else if (!reason->hint.empty()) {
    text += "; " + reason->hint;
  }
  return text;
}

}  // namespace hijack::supervisor
