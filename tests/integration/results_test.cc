// The results suite: what `hijackd run --trace` says each call returned, against strace -f.
//
// The guest (tests/guests/results_guest.cc) makes calls that fail with known errnos: libc's
// exported open, close(-1), read(-1), the openat calls libc makes inside opendir and fopen, and
// raw syscall instructions. On every backend each trace line carries the call's real result and
// errno, and the error counts of the trace and of the stats table equal strace's for the same
// program. Under notify the results of calls the supervisor lets run come from the kernel result
// observer (daemon/observe/result_observer.h), which needs root here; with the observer off
// (--no-kernel-observer) or unprivileged (setpriv as nobody) the log says why once.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/observe/result_observer.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
constexpr const char* kGuest = HIJACK_TEST_RESULTS_GUEST;
constexpr const char* kAgentLibrary = HIJACK_TEST_AGENT_LIBRARY;
constexpr int kRounds = 25;

// The calls of the guest's rounds, whose error counts every backend must get right.
const std::vector<std::string> kChecked = {"openat", "close", "read", "mkdir"};

struct Counts {
  std::map<std::string, long> calls;
  std::map<std::string, long> errors;
};

// The blank-separated words of `line`.
std::vector<std::string> Words(const std::string& line) {
  std::istringstream row(line);
  std::vector<std::string> w;
  for (std::string s; row >> s;) {
    w.push_back(s);
  }
  return w;
}

// strace -f -c's table: "% time seconds usecs/call calls [errors] syscall" (errors is blank
// when there were none).
Counts ParseStraceTable(const std::string& text) {
  Counts c;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> w = Words(line);
    if ((w.size() == 5 || w.size() == 6) && std::isdigit(static_cast<unsigned char>(w[0][0])) &&
        w.back() != "total") {
      c.calls[w.back()] = std::atol(w[3].c_str());
      c.errors[w.back()] = w.size() == 6 ? std::atol(w[4].c_str()) : 0;
    }
  }
  return c;
}

// The stats table hijackd run prints at the end, for the syscalls in `names`: rows that start
// with the name ("name calls errors ...") or, strace style, end with it.
Counts ParseStatsTable(const std::string& text, const std::vector<std::string>& names) {
  Counts c;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> w = Words(line);
    if (w.size() < 3) {
      continue;
    }
    for (const std::string& name : names) {
      if (w[0] == name && std::isdigit(static_cast<unsigned char>(w[1][0]))) {
        c.calls[name] = std::atol(w[1].c_str());
        c.errors[name] = std::atol(w[2].c_str());
      } else if (w.back() == name && std::isdigit(static_cast<unsigned char>(w[0][0])) &&
                 (w.size() == 5 || w.size() == 6)) {
        c.calls[name] = std::atol(w[3].c_str());
        c.errors[name] = w.size() == 6 ? std::atol(w[4].c_str()) : 0;
      }
    }
  }
  return c;
}

struct JsonTrace {
  Counts counts;
  std::map<std::string, long> unknown;  // lines whose "ret" is null, per syscall
};

JsonTrace ParseJsonTrace(const std::string& text) {
  JsonTrace t;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) {
      continue;
    }
    auto rec = nlohmann::json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.contains("syscall")) {
      continue;
    }
    const std::string name = rec["syscall"].get<std::string>();
    ++t.counts.calls[name];
    if (rec.contains("errno")) {
      ++t.counts.errors[name];
    }
    if (!rec.contains("ret") || rec["ret"].is_null()) {
      ++t.unknown[name];
    }
  }
  return t;
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// strace -f -c of the guest, preloading the agent as hijackd does (it stays inert without its
// page), so that both count the same loader calls.
Counts StraceOfGuest(const TempDir& dir) {
  const std::string out = dir.path() + "/strace.txt";
  auto r = RunProcess({"/usr/bin/strace", "-f", "-c", "-o", out, "-E",
                       std::string("LD_PRELOAD=") + kAgentLibrary, kGuest,
                       std::to_string(kRounds)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return ParseStraceTable(ReadFile(out));
}

// The modes of hijackd run this suite compares with strace: every backend, and notify without
// the agent (every call of the guest then goes to the supervisor).
std::vector<std::string> Modes() {
  std::vector<std::string> modes = BackendNames();
  modes.insert(modes.begin() + 1, "notify-no-agent");
  return modes;
}

class ResultsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0 && GetParam().starts_with("notify")) {
      GTEST_SKIP() << "the kernel result observer needs root (CAP_BPF and CAP_PERFMON)";
    }
  }

  HijackdRun Run(std::vector<std::string> options) const {
    HijackdRun run{.hijackd = kHijackd, .backend = GetParam()};
    if (GetParam() == "notify-no-agent") {
      run.backend = "notify";
      options.push_back("--no-agent");
    }
    run.options = std::move(options);
    return run;
  }
};

TEST_P(ResultsTest, JsonTraceAndStatsHaveEveryResultAndStracesErrorCounts) {
  TempDir dir;
  const Counts theirs = StraceOfGuest(dir);
  ASSERT_GE(theirs.errors.at("openat"), 4 * kRounds);
  ASSERT_EQ(theirs.errors.at("close"), kRounds);
  ASSERT_GE(theirs.errors.at("read"), kRounds);
  ASSERT_EQ(theirs.errors.at("mkdir"), kRounds);

  const std::string trace = dir.path() + "/trace.jsonl";
  auto r = Run({"--trace", trace, "--trace-format", "json"}).Run({kGuest,
                                                                  std::to_string(kRounds)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "rounds " + std::to_string(kRounds) + "\n");
  const JsonTrace ours = ParseJsonTrace(ReadFile(trace));
  const Counts stats = ParseStatsTable(r.err, kChecked);
  for (const std::string& name : kChecked) {
    EXPECT_EQ(ours.counts.errors.count(name) ? ours.counts.errors.at(name) : 0,
              theirs.errors.at(name))
        << name << " errors in the JSON trace\n"
        << r.err;
    EXPECT_EQ(stats.errors.count(name) ? stats.errors.at(name) : -1, theirs.errors.at(name))
        << name << " errors in the stats table\n"
        << r.err;
  }
  // A result on every line; exit_group(2) alone never returns.
  for (const auto& [name, n] : ours.unknown) {
    EXPECT_TRUE(name == "exit_group" || name == "exit") << n << " " << name
                                                        << " lines without a result\n"
                                                        << r.err;
  }
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("results of calls that the notify backend lets "
                                              "run are unknown")));
}

TEST_P(ResultsTest, TextTraceShowsEachErrnoAsStraceDoes) {
  TempDir dir;
  const std::string trace = dir.path() + "/trace.txt";
  auto r = Run({"--quiet", "--trace", trace}).Run({kGuest, "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = ReadFile(trace);
  for (const char* pattern :
       {R"(close\(-1\) = -1 EBADF)", R"(read\(-1, .*\) = -1 EBADF)",
        R"(open(at)?\(.*"/nonexistent/results-guest".*\) = -1 ENOENT)",
        R"(openat\(.*"/nonexistent/results-guest-dir".*\) = -1 ENOENT)",
        R"(openat\(.*"/nonexistent/results-guest-file".*\) = -1 ENOENT)",
        R"(openat\(.*"/nonexistent/raw".*\) = -1 ENOENT)", R"(mkdir\(.*\) = -1 EEXIST)",
        R"(openat\(.*"/dev/null".*\) = [0-9]+)"}) {
    EXPECT_TRUE(std::regex_search(text, std::regex(pattern))) << pattern << "\n" << text;
  }
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(") = ?") != std::string::npos) {
      EXPECT_THAT(line, HasSubstr("exit_group(")) << text;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ResultsTest, ::testing::ValuesIn(Modes()),
                         BackendTestName{});

// The observer off: results of the calls notify lets run are unknown, and the log says why once
// (not once per call).
TEST(ResultsObserverOffTest, SwitchedOffSaysWhyOnce) {
  TempDir dir;
  const std::string trace = dir.path() + "/trace.jsonl";
  auto r = HijackdRun{.hijackd = kHijackd,
                      .backend = "notify",
                      .quiet = true,
                      .options = {"--no-kernel-observer", "--trace", trace, "--trace-format",
                                  "json"}}
               .Run({kGuest, "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Occurrences(r.err, "results of calls that the notify backend lets run are unknown"),
            1u)
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("the kernel observer is off: --no-kernel-observer"));
  // The guest's own raw openat went to the supervisor and ran: its result is unknown.
  EXPECT_GE(ParseJsonTrace(ReadFile(trace)).unknown["openat"], 3) << ReadFile(trace);
}

TEST(ResultsObserverOffTest, UnprivilegedSaysWhyOnce) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to run hijackd as nobody (setpriv --reuid=65534)";
  }
  // Staged where nobody can reach them: the build tree may sit in a directory only its owner
  // may enter. hijackd finds the agent in ../lib/hijack, as installed (common/install_layout.h).
  static const StagedFiles staged({{kHijackd, "bin/hijackd"},
                                   {kGuest, "bin/results_guest"},
                                   {kAgentLibrary, "lib/hijack/libhijack-agent.so"}});
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  const std::string trace = dir.path() + "/trace.jsonl";
  auto r = HijackdRun{.hijackd = staged.path("bin/hijackd"),
                      .backend = "notify",
                      .quiet = true,
                      .options = {"--trace", trace, "--trace-format", "json"},
                      .prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                 "--clear-groups"}}
               .Run({staged.path("bin/results_guest"), "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Occurrences(r.err, "results of calls that the notify backend lets run are unknown"),
            1u)
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("the kernel observer is off: bpf(BPF_PROG_LOAD)"));
  EXPECT_THAT(r.err, HasSubstr("CAP_BPF"));
  EXPECT_GE(ParseJsonTrace(ReadFile(trace)).unknown["openat"], 3) << ReadFile(trace);
}

// The observer itself, on threads of this test process: a thread blocked in read(2) is marked as
// the supervisor marks a guest thread it answers, and its return must come back. With one slot
// the second of two pending threads cannot have the slot and goes to the hash map: both paths
// report, and each result goes to its own thread's Event.
TEST(ResultObserverTest, SlotAndOverflowMarksEachReportTheirThreadsReturn) {
  boost::asio::io_context loop;
  auto observer = observe::ResultObserver::Open(loop, {.enabled = true, .slots = 1});
  if (!observer->available()) {
    GTEST_SKIP() << observer->unavailable_reason();
  }
  struct Reader {
    int pipe_fds[2] = {-1, -1};
    std::atomic<pid_t> tid{0};
    std::thread thread;
    std::optional<int64_t> result;
    bool done = false;
  };
  Reader readers[2];
  for (Reader& r : readers) {
    ASSERT_EQ(pipe2(r.pipe_fds, O_CLOEXEC), 0);
    r.thread = std::thread([&r] {
      r.tid = static_cast<pid_t>(syscall(SYS_gettid));
      char buf[16];
      (void)!read(r.pipe_fds[0], buf, sizeof buf);
    });
  }
  // Marked only once blocked in read(2), as a guest thread waits for its answer: the thread's
  // next sys_exit must be that read's.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (Reader& r : readers) {
    for (;;) {
      const pid_t tid = r.tid.load();
      if (tid != 0) {
        const std::string state = ReadFile("/proc/self/task/" + std::to_string(tid) + "/syscall");
        if (state.starts_with(std::to_string(SYS_read) + " ")) {
          break;
        }
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "reader never blocked in read";
      std::this_thread::yield();
    }
    ASSERT_TRUE(observer->Expect(r.tid.load(), SYS_read)) << observer->last_refusal();
  }
  EXPECT_EQ(observer->overflow_marks(), 1u);
  for (Reader& r : readers) {
    Event e;
    e.call.tid = r.tid.load();
    e.call.nr = SYS_read;
    e.decision = Decision::Continue();
    observer->Await(std::move(e), [&r](Event&& done) {
      EXPECT_TRUE(done.result_note.empty()) << done.result_note;
      r.result = done.result;
      r.done = true;
    });
  }
  ASSERT_EQ(write(readers[0].pipe_fds[1], "abc", 3), 3);
  ASSERT_EQ(write(readers[1].pipe_fds[1], "hello", 5), 5);
  for (Reader& r : readers) {
    r.thread.join();
  }
  while (!(readers[0].done && readers[1].done) && std::chrono::steady_clock::now() < deadline) {
    loop.run_one_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(readers[0].done && readers[1].done) << "a return never came";
  EXPECT_EQ(readers[0].result, std::optional<int64_t>(3));
  EXPECT_EQ(readers[1].result, std::optional<int64_t>(5));
  for (Reader& r : readers) {
    close(r.pipe_fds[0]);
    close(r.pipe_fds[1]);
  }
}

}  // namespace
}  // namespace hijack::testing
