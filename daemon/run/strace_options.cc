#include "daemon/run/strace_options.h"

#include <fmt/format.h>

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <regex>
#include <string_view>

#include "daemon/syscalls/syscall_table.h"

namespace hijack::run {
namespace {

// strace options hijackd does not implement, with what stands in the way (strace(1) names).
struct Unsupported {
  char option;
  bool takes_value;
  std::string_view why;
};
constexpr Unsupported kUnsupported[] = {
    {'A', false, "appending to the -o file (hijackd creates or truncates it)"},
    {'b', true, "detaching on execve: a seccomp filter cannot be removed from a guest"},
    {'d', false, "strace's own debug output (hijackd's is --log-level debug)"},
    {'D', false, "running the tracer as a detached grandchild"},
    {'E', true, "changing the command's environment (use env(1) as the command)"},
    {'i', false, "printing the instruction pointer of each call"},
    {'I', true, "choosing when the tracer can be interrupted"},
    {'k', false, "stack traces of each call"},
    {'n', false, "printing syscall numbers"},
    {'O', true, "subtracting a tracing overhead from -c times"},
    {'P', true, "tracing only the calls that access a path"},
    {'u', true, "running the command as another user"},
    {'U', true, "choosing the columns of the -c table"},
    {'v', false, "unabbreviated structures"},
    {'V', false, "strace's version (hijackd --version gives hijackd's)"},
    {'x', false, "printing strings in hexadecimal"},
    {'X', true, "choosing how constants are printed"},
};

const Unsupported* FindUnsupported(char c) {
  for (const Unsupported& u : kUnsupported) {
    if (u.option == c) {
      return &u;
    }
  }
  return nullptr;
}

// Short options strace and hijackd both know that take a value.
bool TakesValue(char c) {
  return c == 'a' || c == 'e' || c == 'o' || c == 'p' || c == 's' || c == 'S';
}

// -p's value: one process id, or several separated by commas or spaces, as strace(1) takes
// them. strace's words for a bad one: "Invalid process id: 'abc'".
Result<void> ParsePids(std::string_view value, std::vector<pid_t>& out) {
  const std::string_view given = value;
  bool any = false;
  while (!value.empty()) {
    const size_t sep = value.find_first_of(", ");
    const std::string_view item = value.substr(0, sep);
    value = sep == std::string_view::npos ? "" : value.substr(sep + 1);
    if (item.empty()) {
      continue;
    }
    int64_t pid = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), pid);
    if (ec != std::errc() || end != item.data() + item.size() || pid <= 0 || pid > INT32_MAX) {
      return MakeError(fmt::format("-p {}: Invalid process id: '{}'", item, item));
    }
    if (pid == getpid()) {
      return MakeError(fmt::format("-p {}: that is hijackd's own process", pid));
    }
    out.push_back(static_cast<pid_t>(pid));
    any = true;
  }
  if (!any) {
    return MakeError(fmt::format("-p {}: Invalid process id: '{}'", given, given));
  }
  return {};
}

Result<uint64_t> Number(std::string_view what, std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return MakeError(fmt::format("{}: \"{}\" is not a number", what, text));
  }
  return v;
}

Result<SyscallSet> ParseItem(std::string_view item) {
  if (item == "none") {
    return SyscallSet{};
  }
  if (item.starts_with("?")) {
    // strace: a name or class that may be unknown here.
    auto set = syscalls::ResolveSyscallSpec(item.substr(1));
    return set ? *set : SyscallSet{};
  }
  if (item.starts_with("/")) {
    std::regex re;
    try {
      re = std::regex(std::string(item.substr(1)), std::regex::extended);
    } catch (const std::regex_error& e) {
      return MakeError(fmt::format("bad regular expression \"{}\": {}", item.substr(1), e.what()));
    }
    SyscallSet set;
    for (int nr : syscalls::AllSyscalls().Numbers()) {
      const std::string name(syscalls::SyscallName(nr));
      if (std::regex_search(name, re)) {
        set.Add(nr);
      }
    }
    return set;
  }
  return syscalls::ResolveSyscallSpec(item);
}

// strace's `when=` of -e inject: FIRST, FIRST+ or FIRST+STEP.
Result<void> ParseWhen(std::string_view text, StraceInject& inject) {
  const size_t plus = text.find('+');
  HIJACK_ASSIGN_OR_RETURN(inject.first, Number("when", text.substr(0, plus)));
  if (inject.first == 0) {
    return MakeError("when: calls are counted from 1");
  }
  if (plus == std::string_view::npos) {
    inject.step = 0;
  } else if (plus + 1 == text.size()) {
    inject.step = 1;
  } else {
    HIJACK_ASSIGN_OR_RETURN(inject.step, Number("when", text.substr(plus + 1)));
    if (inject.step == 0) {
      return MakeError("when: a step of 0 would repeat the same call");
    }
  }
  return {};
}

// -e inject=SET:TAMPERING..., or -e fault=SET[:error=E][:when=...] (default error ENOSYS).
Result<StraceInject> ParseInject(std::string_view value, bool fault) {
  StraceInject inject;
  inject.spec = std::string(fault ? "fault=" : "inject=") + std::string(value);
  const size_t colon = value.find(':');
  HIJACK_ASSIGN_OR_RETURN(inject.syscalls, ParseStraceSet(value.substr(0, colon)));
  bool tampered = false;
  std::string_view rest = colon == std::string_view::npos ? "" : value.substr(colon + 1);
  while (!rest.empty()) {
    const size_t next = rest.find(':');
    const std::string_view part = rest.substr(0, next);
    rest = next == std::string_view::npos ? "" : rest.substr(next + 1);
    const size_t eq = part.find('=');
    const std::string_view key = part.substr(0, eq);
    const std::string_view arg = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    if (key == "error") {
      int err = ErrnoFromName(arg);
      if (err == 0) {
        auto n = Number("error", arg);
        if (!n || *n == 0 || *n > 4095) {
          return MakeError(fmt::format("error=\"{}\": not an errno name (ENOENT) or number", arg));
        }
        err = static_cast<int>(*n);
      }
      inject.error = err;
      tampered = true;
    } else if (key == "retval" && !fault) {
      HIJACK_ASSIGN_OR_RETURN(uint64_t v, Number("retval", arg));
      inject.retval = static_cast<int64_t>(v);
      tampered = true;
    } else if (key == "when") {
      HIJACK_TRY(ParseWhen(arg, inject));
    } else if (key == "signal" || key == "delay_enter" || key == "delay_exit" ||
               key == "syscall" || key == "poke_enter" || key == "poke_exit") {
      return MakeError(fmt::format(
          "{}= is not supported: the tampering hijackd injects is error= or retval=", key));
    } else {
      return MakeError(fmt::format("unknown tampering \"{}\" (known: error=, retval=, when=)",
                                   part));
    }
  }
  if (inject.error != 0 && inject.retval) {
    return MakeError("error= and retval= exclude each other");
  }
  if (!tampered) {
    if (!fault) {
      return MakeError("needs error=E or retval=N");
    }
    inject.error = ENOSYS;  // strace(1): fault= without error= fails with ENOSYS
  }
  return inject;
}

// One -e EXPR: [QUALIFIER=][!]SET.
Result<void> ParseQualifier(std::string_view expr, StraceOptions& out) {
  std::string_view qualifier = "trace";
  std::string_view value = expr;
  if (const size_t eq = expr.find('='); eq != std::string_view::npos) {
    qualifier = expr.substr(0, eq);
    value = expr.substr(eq + 1);
  }
  if (qualifier == "trace" || qualifier == "t") {
    HIJACK_ASSIGN_OR_RETURN(SyscallSet set, ParseStraceSet(value));
    if (!out.trace_given) {
      out.trace = SyscallSet{};
    }
    out.trace.AddAll(set);
    out.trace_given = true;
    return {};
  }
  if (qualifier == "inject" || qualifier == "fault") {
    HIJACK_ASSIGN_OR_RETURN(StraceInject inject, ParseInject(value, qualifier == "fault"));
    out.injects.push_back(std::move(inject));
    return {};
  }
  if (qualifier == "status") {
    if (value == "successful") {
      out.results = StraceOptions::Results::kSuccessful;
    } else if (value == "failed") {
      out.results = StraceOptions::Results::kFailed;
    } else {
      return MakeError(fmt::format("status={}: hijackd takes status=successful or status=failed",
                                   value));
    }
    return {};
  }
  constexpr std::string_view kKnown[] = {"abbrev", "verbose", "raw",   "read",   "write",
                                         "signal", "signals", "quiet", "decode-fds", "kvm",
                                         "a",      "v",       "x",     "r",      "w",
                                         "s",      "q"};
  for (std::string_view k : kKnown) {
    if (qualifier == k) {
      return MakeError(fmt::format("{}= is not supported (hijackd takes -e trace=, inject=, "
                                   "fault= and status=)",
                                   qualifier));
    }
  }
  return MakeError(fmt::format("unknown qualifier \"{}\" (known: trace, inject, fault, status)",
                               qualifier));
}

Result<StraceOptions::Sort> ParseSort(std::string_view key) {
  using Sort = StraceOptions::Sort;
  if (key == "time" || key == "time_total" || key == "total_time") {
    return Sort::kTime;
  }
  if (key == "calls" || key == "count") {
    return Sort::kCalls;
  }
  if (key == "errors" || key == "error") {
    return Sort::kErrors;
  }
  if (key == "name" || key == "syscall" || key == "syscall_name") {
    return Sort::kName;
  }
  if (key == "nothing" || key == "none") {
    return Sort::kNothing;
  }
  return MakeError(fmt::format("-S {}: sort by time, calls, errors, name or nothing", key));
}

// Applies one short option `c` (with `value` when TakesValue(c)).
Result<void> ApplyShort(char c, std::string_view value, StraceOptions& out) {
  const std::string opt = fmt::format("-{}", c);
  switch (c) {
    case 'f':
    case 'F':  // strace: an obsolete spelling of -f
      ++out.follow;
      return {};
    case 'c':
      out.summary = StraceOptions::Summary::kOnly;
      return {};
    case 'C':
      out.summary = StraceOptions::Summary::kAlso;
      return {};
    case 'z':
      out.results = StraceOptions::Results::kSuccessful;
      return {};
    case 'Z':
      out.results = StraceOptions::Results::kFailed;
      return {};
    case 't':
      out.stamps = out.stamps == StraceOptions::Stamps::kNone      ? StraceOptions::Stamps::kSeconds
                   : out.stamps == StraceOptions::Stamps::kSeconds ? StraceOptions::Stamps::kMicros
                                                                   : StraceOptions::Stamps::kEpoch;
      return {};
    case 'r':
      out.relative = true;
      return {};
    case 'T':
      out.durations = true;
      return {};
    case 'y':
      out.fd_paths = true;
      return {};
    case 'w':
      // The -c times are always wall-clock durations, which is what -w asks for.
      return {};
    case 'h':
      out.help = true;
      return {};
    case 'o':
      out.output = std::string(value);
      return {};
    case 'p':
      return ParsePids(value, out.attach);
    case 'q':
      ++out.quiet;
      return {};
    case 's': {
      // strace(1) takes 0 to 2^30-1 and says "invalid -s argument" for anything else.
      auto n = Number(opt, value);
      if (!n) {
        return std::unexpected(n.error());
      }
      if (*n > kMaxStringLimit) {
        return MakeError(fmt::format("-s {}: invalid -s argument: at most {} bytes", value,
                                     kMaxStringLimit));
      }
      out.string_limit = static_cast<size_t>(*n);
      return {};
    }
    case 'S': {
      auto sort = ParseSort(value);
      if (!sort) {
        return std::unexpected(sort.error());
      }
      out.sort = *sort;
      return {};
    }
    case 'e': {
      auto ok = ParseQualifier(value, out);
      if (!ok) {
        return MakeError(fmt::format("-e {}: {}", value, ok.error().message));
      }
      return {};
    }
    case 'a':
      // strace aligns results at column N; hijackd at 40 like strace's default. Refused rather
      // than ignored.
      return MakeError("-a is not supported: results are aligned at column 40, as strace's "
                       "default");
    default:
      break;
  }
  if (const Unsupported* u = FindUnsupported(c)) {
    return MakeError(fmt::format("{} is not supported: {}", opt, u->why));
  }
  return MakeError(fmt::format("unknown option {} (hijackd strace --help lists the options)", opt));
}

// strace's long spellings that map onto the short ones, and hijackd's own options.
Result<void> ApplyLong(std::string_view name, std::optional<std::string_view> value,
                       StraceOptions& out, bool& needs_value) {
  struct Alias {
    std::string_view name;
    char short_option;
  };
  constexpr Alias kAliases[] = {
      {"output", 'o'},          {"follow-forks", 'f'},        {"summary-only", 'c'},
      {"summary", 'C'},         {"successful-only", 'z'},     {"failed-only", 'Z'},
      {"decode-fds", 'y'},      {"string-limit", 's'},        {"syscall-times", 'T'},
      {"relative-timestamps", 'r'}, {"summary-sort-by", 'S'}, {"summary-wall-clock", 'w'},
      {"help", 'h'},            {"attach", 'p'},              {"quiet", 'q'},
  };
  needs_value = false;
  for (const Alias& a : kAliases) {
    if (a.name == name) {
      if (TakesValue(a.short_option) && !value) {
        needs_value = true;
        return {};
      }
      return ApplyShort(a.short_option, value.value_or(""), out);
    }
  }
  if (name == "output-separately") {
    out.follow = std::max(out.follow, 2);
    return {};
  }
  if (name == "trace" || name == "inject" || name == "fault" || name == "status") {
    if (!value) {
      needs_value = true;
      return {};
    }
    return ApplyShort('e', fmt::format("{}={}", name, *value), out);
  }
  if (name == "backend" || name == "policy" || name == "log-level") {
    if (!value) {
      needs_value = true;
      return {};
    }
    if (name == "backend") {
      out.backend = std::string(*value);
    } else if (name == "policy") {
      out.policy = std::string(*value);
    } else {
      out.log_level = std::string(*value);
    }
    return {};
  }
  if (name == "no-agent") {
    out.agent = false;
    return {};
  }
  return MakeError(fmt::format("unknown option --{} (hijackd strace --help lists the options)",
                               name));
}

}  // namespace

Result<SyscallSet> ParseStraceSet(std::string_view set) {
  bool negate = false;
  if (set.starts_with("!")) {
    negate = true;
    set.remove_prefix(1);
  }
  if (set.empty()) {
    return MakeError("an empty syscall set");
  }
  SyscallSet out;
  while (!set.empty()) {
    const size_t comma = set.find(',');
    const std::string_view item = set.substr(0, comma);
    set = comma == std::string_view::npos ? "" : set.substr(comma + 1);
    if (item.empty()) {
      return MakeError("an empty name in the syscall set");
    }
    HIJACK_ASSIGN_OR_RETURN(SyscallSet one, ParseItem(item));
    out.AddAll(one);
  }
  return negate ? syscalls::AllSyscalls().Minus(out) : out;
}

Result<StraceOptions> ParseStraceOptions(std::span<const std::string> args) {
  StraceOptions out;
  out.trace = syscalls::AllSyscalls();
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      break;  // the command
    }
    if (arg.starts_with("--")) {
      const std::string_view body = arg.substr(2);
      const size_t eq = body.find('=');
      const std::string_view name = body.substr(0, eq);
      std::optional<std::string_view> value;
      if (eq != std::string_view::npos) {
        value = body.substr(eq + 1);
      }
      bool needs_value = false;
      HIJACK_TRY(ApplyLong(name, value, out, needs_value));
      if (needs_value) {
        if (i + 1 == args.size()) {
          return MakeError(fmt::format("--{} needs a value", name));
        }
        HIJACK_TRY(ApplyLong(name, std::string_view(args[++i]), out, needs_value));
      }
      continue;
    }
    for (size_t k = 1; k < arg.size(); ++k) {
      const char c = arg[k];
      const Unsupported* u = FindUnsupported(c);
      if (TakesValue(c) || (u != nullptr && u->takes_value)) {
        std::string_view value = arg.substr(k + 1);
        if (value.empty()) {
          if (i + 1 == args.size()) {
            return MakeError(fmt::format("-{} needs a value", c));
          }
          value = args[++i];
        }
        HIJACK_TRY(ApplyShort(c, value, out));
        break;
      }
      HIJACK_TRY(ApplyShort(c, "", out));
    }
  }
  if (out.help) {
    return out;
  }
  out.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (out.command.empty() && out.attach.empty()) {
    return MakeError("no command to run (hijackd strace [OPTIONS] -- CMD ARGS... or -p PID)");
  }
  if (out.quiet >= 2) {
    return MakeError("-qq is not supported: hijackd keeps the exit lines (-q leaves out the "
                     "attach and detach messages)");
  }
  if (!out.attach.empty() && out.backend != "auto" && out.backend != "ptrace" &&
      out.backend != "ptrace-all") {
    return MakeError(fmt::format("-p needs ptrace, not --backend {}: a seccomp filter cannot be "
                                 "added to a process that runs already",
                                 out.backend));
  }
  if (!out.command.empty() && !out.attach.empty()) {
    return MakeError("-p and a command exclude each other: hijackd strace either starts a "
                     "command or attaches to running processes");
  }
  out.per_pid_files = out.follow >= 2 && out.output.has_value();
  if (out.follow >= 2 && !out.output) {
    return MakeError("-ff needs -o FILE: each process is written to FILE.PID");
  }
  if (out.summary == StraceOptions::Summary::kOnly &&
      (out.stamps != StraceOptions::Stamps::kNone || out.relative || out.durations ||
       out.fd_paths)) {
    return MakeError("-c prints only the summary table: -t, -r, -T and -y change trace lines, "
                     "which -c does not print (-C prints both)");
  }
  return out;
}

std::string StraceUsage() {
  return "usage: hijackd strace [OPTIONS] [--] CMD ARGS...\n"
         "       hijackd strace [OPTIONS] -p PID [-p PID...]\n"
         "strace's options, on hijackd's supervisor (the default backend, or --backend):\n"
         "  -f            follow forks (always: hijackd follows every process of the guest;\n"
         "                with -p only when given)\n"
         "  -ff           with -o FILE: one file per process or thread, FILE.TID\n"
         "  -o FILE       write the trace (and the -c table) to FILE instead of stderr\n"
         "  -e trace=SET  only these calls: names, %file %process %network %net %signal %ipc\n"
         "                %desc %memory %stat %lstat %fstat %%stat %statfs %fstatfs %%statfs\n"
         "                %creds %clock %pure, all, none, ?NAME, /REGEX; !SET for all but SET\n"
         "  -e inject=SET:error=E|retval=N[:when=N[+[S]]]   fail or fake calls (fault module)\n"
         "  -e fault=SET[:error=E][:when=...]                the same, ENOSYS by default\n"
         "  -e status=successful|failed, -z, -Z   only calls that succeeded / failed\n"
         "  -t -tt -ttt   time of day, with microseconds, as epoch seconds; -r relative\n"
         "  -T            the call's duration, where hijackd saw the call return\n"
         "  -s N          show N bytes of data buffers (default 32; 0 to 2^30-1, at most 1 MiB\n"
         "                of one buffer is shown); paths are not cut by -s\n"
         "  -p PID        attach to running process PID (every thread) instead of running a\n"
         "                command; repeat it or give PID,PID. Under ptrace, stopping at every\n"
         "                call; new threads are followed, new children with -f. SIGINT or\n"
         "                SIGTERM to hijackd detaches and leaves the process running. Needs the\n"
         "                right to trace it (same uid and kernel.yama.ptrace_scope, or root);\n"
         "                policies that enforce (deny, fs_guard, -e inject) are refused\n"
         "  -q            no \"Process N attached\" / \"detached\" messages (-p)\n"
         "  -y            paths of descriptors (from /proc/PID/fd when the line is written)\n"
         "  -c / -C       the summary table only / also; -S time|calls|errors|name|nothing\n"
         "  -w            accepted: the -c times are wall-clock durations already\n"
         "hijackd's own: --backend NAME, --policy FILE (added to the trace), --no-agent,\n"
         "  --log-level LEVEL (default warn)\n"
         "Refused by name: -a -b -d -D -E -I -k -n -O -P -qq -u -U -v -V -x -X and any\n"
         "option strace does not have.\n";
}

}  // namespace hijack::run
