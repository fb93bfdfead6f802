// Result<T>: the return type of every fallible daemon call.
//
// Daemon code that serves guests does not throw; it returns a Result, whose Error says what
// failed on what, with the errno (or 0 when the failure is not an OS error):
//
//   Result<UniqueFd> OpenTrace(const std::string& path);
//   auto fd = OpenTrace("t.jsonl");
//   if (!fd) { spdlog::error("{}", fd.error().message); return std::unexpected(fd.error()); }
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

namespace hijack {

struct Error {
  int code = 0;         // errno value, or 0 for failures that are not OS errors
  std::string message;  // "openat /etc/x in guest 3: EACCES"
};

template <typename T>
using Result = std::expected<T, Error>;

// An error without an errno: bad input, a broken invariant of the caller.
inline std::unexpected<Error> MakeError(std::string message) {
  return std::unexpected(Error{0, std::move(message)});
}

// An error from the OS: `what` names the operation and its object; the errno name and text are
// appended ("pidfd_getfd 12: EPERM (Operation not permitted)").
std::unexpected<Error> ErrnoError(int err, std::string_view what);

// The symbolic name of an errno value ("EACCES"), or its number as text when unknown.
std::string ErrnoName(int err);

// The errno value for a symbolic name ("EACCES" -> 13), or 0 when the name is unknown.
int ErrnoFromName(std::string_view name);

}  // namespace hijack
