// hijackd strace's parts without a guest: strace's option grammar (grouped short options,
// attached values, -e sets with classes and negation, inject's when=), strace -c's table
// column for column, each kind of siginfo as strace prints it, and percentiles of calls longer than the agent's last histogram bucket.
#include <fcntl.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/stats_table.h"
#include "daemon/modules/stats/stats_module.h"
#include "daemon/modules/trace/signal_text.h"
#include "daemon/modules/trace/trace_module.h"
#include "daemon/run/strace_options.h"
#include "daemon/syscalls/syscall_table.h"
#include "hijack/exec_page.h"

namespace hijack {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Result<run::StraceOptions> Parse(std::vector<std::string> words) {
  return run::ParseStraceOptions(words);
}

TEST(StraceOptions, GroupedFlagsAttachedValuesAndTheCommand) {
  auto o = Parse({"-fftT", "-s64", "-oout", "-y", "ls", "-la"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->follow, 2);
  EXPECT_TRUE(o->per_pid_files);
  EXPECT_EQ(o->output, "out");
  EXPECT_EQ(o->stamps, run::StraceOptions::Stamps::kSeconds);
  EXPECT_TRUE(o->durations);
  EXPECT_TRUE(o->fd_paths);
  EXPECT_EQ(o->string_limit, 64u);
  EXPECT_THAT(o->command, ElementsAre("ls", "-la"));  // the command's own options stay its own

  auto ttt = Parse({"-ttt", "--", "-weird"});
  ASSERT_TRUE(ttt);
  EXPECT_EQ(ttt->stamps, run::StraceOptions::Stamps::kEpoch);
  EXPECT_THAT(ttt->command, ElementsAre("-weird"));
}

TEST(StraceOptions, TraceSetsWithClassesNegationAndRegex) {
  auto o = Parse({"-e", "trace=!%file,write", "true"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_FALSE(o->trace.Contains(SCMP_SYS(openat)));
  EXPECT_FALSE(o->trace.Contains(SCMP_SYS(write)));
  EXPECT_TRUE(o->trace.Contains(SCMP_SYS(mmap)));

  auto added = Parse({"-e", "trace=%creds", "-e", "%clock", "true"});
  ASSERT_TRUE(added);
  EXPECT_TRUE(added->trace.Contains(SCMP_SYS(setresuid)));
  EXPECT_TRUE(added->trace.Contains(SCMP_SYS(clock_gettime)));
  EXPECT_FALSE(added->trace.Contains(SCMP_SYS(read)));

  auto re = run::ParseStraceSet("/^(l|f)?stat$");
  ASSERT_TRUE(re);
  EXPECT_EQ(re->size(), 3u);
  EXPECT_EQ(run::ParseStraceSet("%%stat").value().size(), 5u);
  EXPECT_EQ(run::ParseStraceSet("?no_such_call").value().size(), 0u);
}

TEST(StraceOptions, InjectWhenStepsAndRetval) {
  auto o = Parse({"-e", "inject=openat,close:error=EIO:when=3+2", "-e",
                  "inject=getpid:retval=7:when=2", "-e", "fault=read", "true"});
  ASSERT_TRUE(o) << o.error().message;
  ASSERT_EQ(o->injects.size(), 3u);
  EXPECT_EQ(o->injects[0].error, EIO);
  EXPECT_EQ(o->injects[0].first, 3u);
  EXPECT_EQ(o->injects[0].step, 2u);
  EXPECT_EQ(o->injects[0].syscalls.size(), 2u);
  EXPECT_EQ(o->injects[1].retval, 7);
  EXPECT_EQ(o->injects[1].step, 0u);  // only the 2nd
  EXPECT_EQ(o->injects[2].error, ENOSYS);
  EXPECT_EQ(o->injects[2].step, 1u);  // every call
}

TEST(StraceOptions, StringLimitsAsStraceTakesThem) {
  auto zero = Parse({"-s", "0", "true"});
  ASSERT_TRUE(zero) << zero.error().message;
  EXPECT_EQ(zero->string_limit, 0u);
  auto top = Parse({"-s1073741823", "true"});
  ASSERT_TRUE(top) << top.error().message;
  EXPECT_EQ(top->string_limit, 1073741823u);
  EXPECT_THAT(Parse({"-s", "1073741824", "true"}).error().message,
              HasSubstr("-s 1073741824: invalid -s argument"));
  EXPECT_THAT(Parse({"-s", "-1", "true"}).error().message, HasSubstr("-s: \"-1\" is not a number"));
  EXPECT_THAT(Parse({"--string-limit=x", "true"}).error().message,
              HasSubstr("-s: \"x\" is not a number"));
}

TEST(StraceOptions, ProcessIdsToAttachTo) {
  auto o = Parse({"-p", "12", "-p13,14", "-p", "15 16", "--attach=17"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_THAT(o->attach, ElementsAre(12, 13, 14, 15, 16, 17));
  EXPECT_TRUE(o->command.empty());
  for (const std::string bad : {"0", "-1", "abc", "1x", "2147483648", ""}) {
    auto r = Parse({"-p", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message, HasSubstr("Invalid process id: '" + bad + "'")) << bad;
  }
  EXPECT_THAT(Parse({"-p", std::to_string(getpid())}).error().message,
              HasSubstr("hijackd's own process"));
  EXPECT_THAT(Parse({"-p", "12", "true"}).error().message, HasSubstr("exclude each other"));
  EXPECT_THAT(Parse({"--backend", "notify", "-p", "12"}).error().message,
              HasSubstr("-p needs ptrace"));
  EXPECT_TRUE(Parse({"--backend", "ptrace", "-p", "12"}));
  auto quiet = Parse({"-q", "-p", "12"});
  ASSERT_TRUE(quiet);
  EXPECT_EQ(quiet->quiet, 1);
  EXPECT_THAT(Parse({"-qq", "-p", "12"}).error().message, HasSubstr("-qq is not supported"));
}

TEST(StraceOptions, RefusalsNameTheOption) {
  EXPECT_THAT(Parse({"-fk", "true"}).error().message, HasSubstr("-k is not supported"));
  EXPECT_THAT(Parse({"--bogus", "true"}).error().message, HasSubstr("unknown option --bogus"));
  EXPECT_THAT(Parse({"-c", "-T", "true"}).error().message, HasSubstr("-C prints both"));
  EXPECT_THAT(Parse({"-e", "inject=openat:error=EIO:retval=1", "true"}).error().message,
              HasSubstr("exclude each other"));
}

TEST(StraceTable, ColumnsAsStraceWritesThem) {
  std::vector<common::StatsRow> rows = {
      {.syscall = "close", .calls = 23, .durations = 23, .duration_ns = 33'000},
      {.syscall = "openat", .calls = 40, .errors = 19, .durations = 40, .duration_ns = 104'000},
  };
  EXPECT_EQ(common::FormatStraceTable(rows, common::StraceSort::kTime),
            "% time     seconds  usecs/call     calls    errors syscall\n"
            "------ ----------- ----------- --------- --------- ----------------\n"
            " 75.91    0.000104           2        40        19 openat\n"
            " 24.09    0.000033           1        23           close\n"
            "------ ----------- ----------- --------- --------- ----------------\n"
            "100.00    0.000137           2        63        19 total\n");
  EXPECT_THAT(common::FormatStraceTable(rows, common::StraceSort::kName),
              HasSubstr("-\n 24.09 "));
}

// The agent's histogram ends in an open bucket (every call from 2^23 ns up): a 2 s sleep used to
// read as p50 13107.2 us, the middle of that bucket. Its exact total places it right.
TEST(StraceLatency, CallsPastTheAgentsLastBucketKeepTheirDuration) {
  modules::StatsModule stats(syscalls::AllSyscalls());
  uint64_t hist[exec_page::kHistogramBuckets] = {};
  hist[exec_page::kHistogramBuckets - 1] = 1;
  stats.AddCounts(SCMP_SYS(clock_nanosleep), 1, 0, 2'000'000'000, hist);
  auto row = stats.Stats()["clock_nanosleep"];
  EXPECT_GE(row["p50_ns"].get<uint64_t>(), 2'000'000'000u);
  EXPECT_LT(row["p50_ns"].get<uint64_t>(), 2'000'000'000u * 1.07);
  EXPECT_EQ(row["p99_ns"], row["p50_ns"]);

  // With shorter calls beside them, the long ones still land near their own duration.
  modules::StatsModule mixed(syscalls::AllSyscalls());
  uint64_t both[exec_page::kHistogramBuckets] = {};
  both[10] = 97;  // [1024, 2048) ns
  both[exec_page::kHistogramBuckets - 1] = 3;
  mixed.AddCounts(SCMP_SYS(clock_nanosleep), 100, 0, 3'000'000'000 + 97 * 1500, both);
  auto r = mixed.Stats()["clock_nanosleep"];
  EXPECT_LT(r["p50_ns"].get<uint64_t>(), 2048u);
  EXPECT_GE(r["p99_ns"].get<uint64_t>(), 1'000'000'000u * 0.99);
  EXPECT_LT(r["p99_ns"].get<uint64_t>(), 1'000'000'000u * 1.07);
}

// -y and -s on a descriptor that stays open while the line is written (the test's own): the path
// comes from /proc/PID/fd, the data is cut at -s bytes with strace's "...".
TEST(StraceLines, DescriptorPathsAndStringLimit) {
  char dir[] = "/tmp/hijack-strace-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string target = std::string(dir) + "/target";
  const std::string out = std::string(dir) + "/out";
  const int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  {
    modules::TraceModule::StraceStyle style;
    style.shown.Add(SCMP_SYS(write));
    style.fd_paths = true;
    style.string_limit = 4;
    auto trace = modules::TraceModule::OpenStrace(style, out);
    ASSERT_TRUE(trace) << trace.error().message;
    Event ev;
    ev.call.nr = SCMP_SYS(write);
    ev.call.pid = ev.call.tid = getpid();
    ev.call.args = {static_cast<uint64_t>(fd), 0x1000, 12, 0, 0, 0};
    ev.call.start_ns = 1;
    ev.end_ns = 2;
    ev.args = {{std::to_string(fd), fd}, {"\"hello\\nthere\"", "hello\nthere"}, {"12", 12}};
    ev.result = 12;
    (*trace)->Observe(ev);
  }
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "write(" + std::to_string(fd) + "<" + target + ">, \"hell\"..., 12) = 12\n");
  close(fd);
  std::filesystem::remove_all(dir);
}

// -s cuts each string of execve's argv, as strace does, and leaves the path whole.
TEST(StraceLines, ArgvStringsAreCutAtTheStringLimit) {
  char dir[] = "/tmp/hijack-strace-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string out = std::string(dir) + "/out";
  {
    modules::TraceModule::StraceStyle style;
    style.shown.Add(SCMP_SYS(execve));
    style.string_limit = 5;
    auto trace = modules::TraceModule::OpenStrace(style, out);
    ASSERT_TRUE(trace) << trace.error().message;
    Event ev;
    ev.call.nr = SCMP_SYS(execve);
    ev.call.pid = ev.call.tid = getpid();
    ev.call.start_ns = 1;
    ev.end_ns = 2;
    // As the decoder writes them: a string it cut already ("..."), one with an escape, one
    // short enough, an unreadable entry.
    ev.args = {{"\"/bin/echo\"", "/bin/echo"},
               {"[\"/bin/echo\", \"helloworld\", \"" + std::string(256, 'a') +
                    "\"..., \"a\\\"b\\nc\", \"ok\", 0x10]",
                nullptr},
               {"0x7ffd0000 /* 3 vars */", nullptr}};
    ev.result = 0;
    (*trace)->Observe(ev);
  }
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(),
            "execve(\"/bin/echo\", [\"/bin/\"..., \"hello\"..., \"aaaaa\"..., \"a\\\"b\\nc\", "
            "\"ok\", 0x10], 0x7ffd0000 /* 3 vars */) = 0\n");
  std::filesystem::remove_all(dir);
}

// The braces of strace's "--- SIG... {...} ---" line for each kind of siginfo (sigaction(2)):
// the members that mean something for that signal and code, and no others.
TEST(SiginfoText, EachKindShowsItsMembersAsStraceDoes) {
  struct Case {
    SignalDelivery d;
    std::string text;
  };
  const std::vector<Case> cases = {
      {{.signo = SIGSEGV, .code = SEGV_MAPERR, .addr = 0x10},
       "{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10}"},
      {{.signo = SIGSEGV, .code = SI_KERNEL}, "{si_signo=SIGSEGV, si_code=SI_KERNEL, si_addr=NULL}"},
      {{.signo = SIGBUS, .code = BUS_ADRERR, .addr = 0x7f0000001000},
       "{si_signo=SIGBUS, si_code=BUS_ADRERR, si_addr=0x7f0000001000}"},
      {{.signo = SIGFPE, .code = FPE_INTDIV, .addr = 0x401136},
       "{si_signo=SIGFPE, si_code=FPE_INTDIV, si_addr=0x401136}"},
      {{.signo = SIGCHLD, .code = CLD_EXITED, .pid = 42, .uid = 1000, .status = 3, .utime = 1},
       "{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=42, si_uid=1000, si_status=3, si_utime=1, "
       "si_stime=0}"},
      {{.signo = SIGCHLD, .code = CLD_KILLED, .pid = 42, .status = SIGKILL},
       "{si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=42, si_uid=0, si_status=SIGKILL, "
       "si_utime=0, si_stime=0}"},
      {{.signo = SIGTERM, .code = SI_USER, .pid = 7, .uid = 0},
       "{si_signo=SIGTERM, si_code=SI_USER, si_pid=7, si_uid=0}"},
      {{.signo = SIGUSR2, .code = SI_TKILL, .pid = 7, .uid = 5},
       "{si_signo=SIGUSR2, si_code=SI_TKILL, si_pid=7, si_uid=5}"},
      {{.signo = SIGUSR1, .code = SI_QUEUE, .pid = 7, .value = 42},
       "{si_signo=SIGUSR1, si_code=SI_QUEUE, si_pid=7, si_uid=0, si_int=42, si_ptr=0x2a}"},
      {{.signo = SIGALRM, .code = SI_TIMER, .value = 0, .timerid = 1, .overrun = 2},
       "{si_signo=SIGALRM, si_code=SI_TIMER, si_timerid=0x1, si_overrun=2, si_int=0, "
       "si_ptr=NULL}"},
      {{.signo = SIGALRM, .code = SI_KERNEL}, "{si_signo=SIGALRM, si_code=SI_KERNEL}"},
      {{.signo = SIGIO, .code = POLL_IN, .band = 65, .fd = 3},
       "{si_signo=SIGIO, si_code=POLL_IN, si_band=65, si_fd=3}"},
      {{.signo = SIGSYS, .code = 1, .addr = 0x401000, .syscall = SYS_getpid,
        .arch = AUDIT_ARCH_X86_64},
       "{si_signo=SIGSYS, si_code=SYS_SECCOMP, si_call_addr=0x401000, si_syscall=__NR_getpid, "
       "si_arch=AUDIT_ARCH_X86_64}"},
      {{.signo = SIGSEGV, .code = 99, .addr = 1}, "{si_signo=SIGSEGV, si_code=99, si_addr=0x1}"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(modules::SiginfoText(c.d), c.text);
  }
  const nlohmann::json j =
      modules::SiginfoJson({.signo = SIGSEGV, .code = SEGV_MAPERR, .addr = 0x10});
  EXPECT_EQ(j.dump(), R"({"si_addr":16,"si_code":"SEGV_MAPERR","signal":"SIGSEGV"})");
}

}  // namespace
}  // namespace hijack
