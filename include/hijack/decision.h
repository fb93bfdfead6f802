// Decision: what happens to one intercepted system call.
//
//   return Decision::Fail(EACCES);      // the call does not run; the guest sees -1/EACCES
//   return Decision::Return(0);         // the call does not run; the guest sees 0
//   return Decision::Continue();        // the kernel runs the call as the guest made it
//   return Decision::InjectFd(fd);      // the call does not run; the guest gets a copy of `fd`
//   return Decision::Continue().After(std::chrono::milliseconds(5));  // hold, then run it
//   return Decision::Fail(EACCES).Because({.rule = "deny pattern \"/etc/shadow\"",
//                                          .path = "/etc/shadow"});      // a denial, explained
//
// Backends honour every kind: notify through seccomp_unotify(2) responses (Continue is
// SECCOMP_USER_NOTIF_FLAG_CONTINUE, InjectFd is SECCOMP_IOCTL_NOTIF_ADDFD with
// SECCOMP_ADDFD_FLAG_SEND), ptrace by skipping the call (syscall number -1) and writing the
// return register. InjectFd needs the notify backend (Backend::CanInjectFd()).
// A delay (After) is the deferred answer: the backend holds the calling thread from a timer,
// without blocking its loop or other guests, then applies the decision. A signal to the held
// thread interrupts the wait as it would interrupt a blocking call.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "hijack/unique_fd.h"

namespace hijack {

// Why a module denied a call, in the policy's own words, for the people who read the events and
// the messages of a launch that a denial ended. Made only when a module denies (never on the
// path of a call that runs), and shared by every copy of the Decision.
struct DenialReason {
  // The rule that decided: the pattern and its list ("deny pattern \"/etc/**\" (read)"), or the
  // default ("no allow pattern matches (default deny)").
  std::string rule;
  // What to change in the policy to allow the call ("add \"/usr/bin/ls\" to exec_guard.allow");
  // empty when the module has nothing to suggest.
  std::string hint;
  // The object the rule judged: the resolved path ("/usr/sbin/lighttpd"); empty when none.
  std::string path;
  // The errno the kernel would have returned had the policy let the call run (ENOENT for a name
  // that does not exist for the guest and that the call would not create); 0 when the call
  // would have gone on. A denial of a call that fails anyway costs the guest nothing.
  int would_fail = 0;
};

class Decision {
 public:
  enum class Kind : uint8_t {
    kContinue,  // run the call unchanged
    kFail,      // do not run it; fail with error()
    kReturn,    // do not run it; return value()
    kInjectFd,  // do not run it; install fd() in the guest and return the new number
  };

  Decision() = default;
  static Decision Continue() { return Decision(); }
  static Decision Fail(int err) { return Decision(Kind::kFail, err, -err); }
  static Decision Return(int64_t value) { return Decision(Kind::kReturn, 0, value); }
  // `fd` stays open in the supervisor until the decision is applied; `cloexec` sets
  // O_CLOEXEC on the guest's copy (as the guest's O_CLOEXEC / SOCK_CLOEXEC asked).
  static Decision InjectFd(std::shared_ptr<const UniqueFd> fd, bool cloexec) {
    Decision d(Kind::kInjectFd, 0, 0);
    d.fd_ = std::move(fd);
    d.cloexec_ = cloexec;
    return d;
  }

  // The same decision, applied after holding the call for `delay`.
  Decision After(std::chrono::nanoseconds delay) const {
    Decision d = *this;
    d.delay_ = delay;
    return d;
  }

  // The same decision with the reason a module denied the call (a kFail).
  Decision Because(DenialReason reason) const {
    Decision d = *this;
    d.reason_ = std::make_shared<const DenialReason>(std::move(reason));
    return d;
  }

  Kind kind() const { return kind_; }
  int error() const { return error_; }
  // The value the guest sees in the return register: -errno for kFail.
  int64_t value() const { return value_; }
  bool runs_call() const { return kind_ == Kind::kContinue; }
  std::chrono::nanoseconds delay() const { return delay_; }
  int fd() const { return fd_ ? fd_->get() : -1; }
  bool cloexec() const { return cloexec_; }
  // Why the module denied the call; nullptr when it gave no reason.
  const DenialReason* reason() const { return reason_.get(); }

  bool operator==(const Decision& o) const {
    return kind_ == o.kind_ && error_ == o.error_ && value_ == o.value_ && delay_ == o.delay_ &&
           fd_ == o.fd_;
  }

 private:
  Decision(Kind kind, int err, int64_t value) : kind_(kind), error_(err), value_(value) {}

  Kind kind_ = Kind::kContinue;
  int error_ = 0;
  int64_t value_ = 0;
  std::chrono::nanoseconds delay_{0};
  std::shared_ptr<const UniqueFd> fd_;
  bool cloexec_ = false;
  std::shared_ptr<const DenialReason> reason_;  // explanations do not make decisions differ
};

std::string_view KindName(Decision::Kind kind);  // "continue", "fail", "return", "inject_fd"

}  // namespace hijack
