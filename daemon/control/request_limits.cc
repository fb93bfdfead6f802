#include "daemon/control/request_limits.h"

#include <fmt/format.h>

namespace hijack::control {
namespace {

std::unexpected<Error> TooBig(std::string what, size_t n, size_t limit, std::string_view unit) {
  return std::unexpected(
      Error{E2BIG, fmt::format("{}: {} {}, more than the limit of {}", what, n, unit, limit)});
}

// A list of strings: its length, each string's size, no NUL inside. Adds the bytes to `total`.
Result<void> CheckStrings(const google::protobuf::RepeatedPtrField<std::string>& list,
                          std::string_view field, size_t max_count, size_t max_bytes,
                          size_t* total) {
  if (static_cast<size_t>(list.size()) > max_count) {
    return TooBig(std::string(field), static_cast<size_t>(list.size()), max_count, "entries");
  }
  for (int i = 0; i < list.size(); ++i) {
    const std::string& s = list[i];
    if (s.size() > max_bytes) {
      return TooBig(fmt::format("{}[{}]", field, i), s.size(), max_bytes, "bytes");
    }
    if (s.find('\0') != std::string::npos) {
      return std::unexpected(Error{
          EINVAL, fmt::format("{}[{}]: contains a NUL byte (at offset {})", field, i,
                              s.find('\0'))});
    }
    if (total != nullptr) {
      *total += s.size() + 1;
    }
  }
  return {};
}

Result<void> CheckString(const std::string& s, std::string_view field, size_t max_bytes) {
  if (s.size() > max_bytes) {
    return TooBig(std::string(field), s.size(), max_bytes, "bytes");
  }
  if (s.find('\0') != std::string::npos) {
    return std::unexpected(Error{EINVAL, fmt::format("{}: contains a NUL byte", field)});
  }
  return {};
}

}  // namespace

Result<void> ValidateLaunchRequest(const v1::LaunchRequest& req, const RequestLimits& limits) {
  size_t exec_bytes = 0;
  if (auto ok = CheckStrings(req.argv(), "argv", limits.max_argv, limits.max_string_bytes,
                             &exec_bytes);
      !ok) {
    return ok;
  }
  if (auto ok = CheckStrings(req.env(), "env", limits.max_env, limits.max_string_bytes,
                             &exec_bytes);
      !ok) {
    return ok;
  }
  if (exec_bytes > limits.max_exec_bytes) {
    return TooBig("argv and env", exec_bytes, limits.max_exec_bytes, "bytes");
  }
  if (auto ok = CheckString(req.cwd(), "cwd", limits.max_path_bytes); !ok) {
    return ok;
  }
  if (auto ok = CheckString(req.backend(), "backend", limits.max_name_bytes); !ok) {
    return ok;
  }
  if (auto ok = CheckStrings(req.intercept(), "intercept", limits.max_names,
                             limits.max_name_bytes, nullptr);
      !ok) {
    return ok;
  }
  return ValidatePolicyDocument(req.policy(), limits);
}

Result<void> ValidatePolicyDocument(const std::string& document, const RequestLimits& limits) {
  if (document.size() > limits.max_policy_bytes) {
    return TooBig("policy", document.size(), limits.max_policy_bytes, "bytes");
  }
  return {};
}

Result<void> ValidateWatchEventsRequest(const v1::WatchEventsRequest& req,
                                        const RequestLimits& limits) {
  if (auto ok = CheckStrings(req.syscalls(), "syscalls", limits.max_names, limits.max_name_bytes,
                             nullptr);
      !ok) {
    return ok;
  }
  // Each entry's value is checked where the filter is built (DecisionKindSet::FromProto).
  if (static_cast<size_t>(req.decisions_size()) > limits.max_names) {
    return TooBig("decisions", static_cast<size_t>(req.decisions_size()), limits.max_names,
                  "entries");
  }
  return {};
}

}  // namespace hijack::control
