// Result<T>: the return type of every fallible daemon call.
//
// Daemon code that serves guests does not throw; it returns a Result, whose Error says what
// failed on what, with the errno (or 0 when the failure is not an OS error):
//
//   Result<UniqueFd> OpenTrace(const std::string& path);
//   auto fd = OpenTrace("t.jsonl");
//   if (!fd) { spdlog::error("{}", fd.error().message); return std::unexpected(fd.error()); }
//
// Passing an error up unchanged is written with the two macros at the end of this file:
//
//   HIJACK_ASSIGN_OR_RETURN(UniqueFd fd, OpenTrace(path));   // declares fd, or returns the error
//   HIJACK_TRY(WriteAll(fd, line));                          // Result<void> or any Result<T>
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

// Evaluates `expr` (a Result<T>) and returns its Error from the enclosing function, which must
// itself return a Result, when it holds one.
#define HIJACK_TRY(expr)                                                                           \
  do {                                                                                             \
    auto&& hijack_try_result_ = (expr);                                                            \
    if (!hijack_try_result_) {                                                                     \
      return std::unexpected(std::move(hijack_try_result_).error());                               \
    }                                                                                              \
  } while (false)

// Evaluates `expr` (a Result<T>); on success moves its value into `lhs` (a declaration such as
// `auto fd` or an existing variable), else returns its Error. One statement; not for use as
// the body of an unbraced if.
#define HIJACK_ASSIGN_OR_RETURN(lhs, expr)                                                         \
  HIJACK_ASSIGN_OR_RETURN_IMPL_(HIJACK_RESULT_CONCAT_(hijack_result_, __LINE__), lhs, expr)
#define HIJACK_RESULT_CONCAT_INNER_(a, b) a##b
#define HIJACK_RESULT_CONCAT_(a, b) HIJACK_RESULT_CONCAT_INNER_(a, b)
#define HIJACK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                                              \
  auto tmp = (expr);                                                                               \
  if (!tmp) {                                                                                      \
    return std::unexpected(std::move(tmp).error());                                                \
  }                                                                                                \
  lhs = std::move(*tmp)
