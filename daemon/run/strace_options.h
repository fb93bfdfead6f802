// StraceOptions: the command line of `hijackd strace`, spelled as strace(1) spells it, so that
// strace habits carry over:
//
//   hijackd strace -f -e trace=%file -o out.txt -- make -j2
//   hijackd strace -c -S calls ls /
//   hijackd strace -e inject=openat:error=ENOENT:when=3 -Z -- ./prog
//   hijackd strace -f -o out.txt -p 1234            # attach; SIGINT detaches
//
//   Result<StraceOptions> opts = run::ParseStraceOptions(args);   // the words after "strace"
//   if (!opts) { fprintf(stderr, "hijackd strace: %s\n", opts.error().message.c_str()); exit(2); }
//
// Parsing follows getopt(3) as strace uses it: short options may be grouped (-fT), an option's
// value may be attached (-s64, -oout) or the next word, the first word that is not an option
// starts the command (or the word after "--"). Every strace option is either implemented or
// refused by name: an option strace has and hijackd does not implement (-k, -x, -P, ...) is an
// error saying so, never ignored; a word strace does not know is an error too. Besides strace's
// options, hijackd's own --backend, --policy, --no-agent and --log-level are taken (strace has
// no options of those names).
//
// Pure functions; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hijack/result.h"
#include "hijack/syscall_set.h"

namespace hijack::run {

// -e inject=SET:error=E|retval=N[:when=EXPR], as strace(1) "Tampering" defines it.
struct StraceInject {
  std::string spec;     // as given, for messages and the policy's record
  SyscallSet syscalls;  // the SET
  int error = 0;        // errno to fail with (error=), or 0 with retval
  std::optional<int64_t> retval;
  // when=FIRST[+[STEP]]: the FIRST-th matching call (1-based) is tampered with, then every
  // STEP-th after it; no '+': only FIRST; '+' alone: STEP 1. Default: every call (1+1).
  uint64_t first = 1;
  uint64_t step = 1;  // 0: only the FIRST
};

// The largest -s strace(1) accepts (2^30 - 1). What a line shows of one buffer is capped lower,
// at syscalls::kMaxShownBytes (arg_decoder.h), so that no call makes hijackd hold gigabytes.
inline constexpr uint64_t kMaxStringLimit = (uint64_t{1} << 30) - 1;

struct StraceOptions {
  enum class Stamps { kNone, kSeconds, kMicros, kEpoch };  // -t, -tt, -ttt
  enum class Results { kAll, kSuccessful, kFailed };       // -z, -Z
  enum class Summary { kNone, kOnly, kAlso };              // -c, -C
  enum class Sort { kTime, kCalls, kErrors, kName, kNothing };  // -S

  std::vector<std::string> command;  // empty with -p
  // -p PID (repeated, or "PID,PID" / "PID PID"): processes to attach to instead of a command.
  std::vector<pid_t> attach;
  int quiet = 0;  // -q: no attach and detach messages (-qq, which drops exit lines, is refused)
  std::optional<std::string> output;  // -o FILE
  bool per_pid_files = false;         // -ff with -o: FILE.TID
  int follow = 0;                     // how many -f were given (hijackd always follows)
  SyscallSet trace;                   // -e trace=SET (every call when not given)
  bool trace_given = false;
  std::vector<StraceInject> injects;  // -e inject=, -e fault=
  Results results = Results::kAll;
  Stamps stamps = Stamps::kNone;
  bool relative = false;   // -r
  bool durations = false;  // -T
  size_t string_limit = 32;  // -s N: 0 .. kMaxStringLimit
  bool fd_paths = false;   // -y
  Summary summary = Summary::kNone;
  Sort sort = Sort::kTime;
  // hijackd's own options.
  std::string backend = "auto";
  std::optional<std::string> policy;
  bool agent = true;
  std::optional<std::string> log_level;
  bool help = false;  // -h / --help: print StraceUsage() and run nothing
};

// Parses the words after `hijackd strace`. Errors (code 0) name the option: "unknown option
// -X", "-p abc: Invalid process id: 'abc'", "-s: \"abc\" is not a number", "-s 1073741824:
// invalid -s argument: at most 1073741823 bytes",
// "-e trace=opne: unknown syscall \"opne\"; did you mean \"open\"?".
[[nodiscard]] Result<StraceOptions> ParseStraceOptions(std::span<const std::string> args);

// Parses one strace syscall set ("openat,close", "!write", "%file", "?foo", "/^stat", "all",
// "none"), as -e trace= and -e inject= take it.
[[nodiscard]] Result<SyscallSet> ParseStraceSet(std::string_view set);

// The usage text of `hijackd strace --help`.
std::string StraceUsage();

}  // namespace hijack::run
