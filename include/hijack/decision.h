// Decision: what happens to one intercepted system call.
//
//   return Decision::Fail(EACCES);      // the call does not run; the guest sees -1/EACCES
//   return Decision::Return(0);         // the call does not run; the guest sees 0
//   return Decision::Continue();        // the kernel runs the call as the guest made it
//
// Both backends honour every kind: notify through seccomp_unotify(2) responses (Continue is
// SECCOMP_USER_NOTIF_FLAG_CONTINUE), ptrace by skipping the call (syscall number -1) and writing
// the return register.
#pragma once

#include <cstdint>
#include <string_view>

namespace hijack {

class Decision {
 public:
  enum class Kind : uint8_t {
    kContinue,  // run the call unchanged
    kFail,      // do not run it; fail with error()
    kReturn,    // do not run it; return value()
  };

  constexpr Decision() = default;
  static constexpr Decision Continue() { return Decision(); }
  static constexpr Decision Fail(int err) { return Decision(Kind::kFail, err, -err); }
  static constexpr Decision Return(int64_t value) { return Decision(Kind::kReturn, 0, value); }

  constexpr Kind kind() const { return kind_; }
  constexpr int error() const { return error_; }
  // The value the guest sees in the return register: -errno for kFail.
  constexpr int64_t value() const { return value_; }
  constexpr bool runs_call() const { return kind_ == Kind::kContinue; }

  constexpr bool operator==(const Decision&) const = default;

 private:
  constexpr Decision(Kind kind, int err, int64_t value) : kind_(kind), error_(err), value_(value) {}

  Kind kind_ = Kind::kContinue;
  int error_ = 0;
  int64_t value_ = 0;
};

std::string_view KindName(Decision::Kind kind);  // "continue", "fail", "return"

}  // namespace hijack
