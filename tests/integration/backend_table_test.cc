// The backend table and its one owner: every guest of a kind runs under one instance, whether it
// asked for the kind or for "auto"; the two ptrace kinds share one Tracer, so their guests run
// side by side on one loop; and every place that names backends (hijackd run --backend, hijackd
// check, the control API's Launch and Health) takes the names from the table, refusing others
// with the list of the known ones.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/backend/backend_set.h"
#include "daemon/backend/backend_table.h"
#include "daemon/launcher/child_function.h"
#include "tests/support/backend_guest.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;

constexpr auto kDeadline = std::chrono::seconds(30);

// What an unknown name is answered with: every name of the table, and auto.
std::string KnownList() { return "(known: auto, " + backend::BackendNameList() + ")"; }

TEST(BackendTable, HasOneRowPerKindAndTheTestsIterateIt) {
  std::vector<std::string> names;
  for (const backend::BackendEntry& entry : backend::BackendTable()) {
    names.emplace_back(entry.name());
    EXPECT_EQ(BackendKindNamed(entry.name()), entry.kind);
    EXPECT_FALSE(entry.description.empty()) << entry.name();
  }
  EXPECT_EQ(names, BackendNames());
}

TEST(BackendTable, ChoicesParseByNameAndUnknownNamesListTheKnownOnes) {
  auto automatic = backend::ParseBackendChoice("auto");
  ASSERT_TRUE(automatic);
  EXPECT_TRUE(automatic->automatic());
  for (const std::string& name : BackendNames()) {
    auto choice = backend::ParseBackendChoice(name);
    ASSERT_TRUE(choice) << name;
    EXPECT_EQ(choice->kind(), KindOf(name));
    EXPECT_EQ(choice->Name(), name);
  }
  for (const char* bad : {"ptrase", "", "Notify", "ptrace_all", "auto "}) {
    auto refused = backend::ParseBackendChoice(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, EINVAL);
    EXPECT_THAT(refused.error().message,
                HasSubstr("unknown backend \"" + std::string(bad) + "\" " + KnownList()));
  }
}

class BackendSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
};

// "auto" and the kind it picks are one instance; so is every later request for either.
TEST_F(BackendSetTest, AutoAndTheKindItPicksAreOneInstance) {
  boost::asio::io_context loop;
  launcher::ProcessReaper reaper(loop);
  backend::BackendSet backends(loop, reaper);
  auto automatic = backends.Select(backend::BackendChoice::Auto());
  ASSERT_TRUE(automatic) << automatic.error().message;
  auto named = backends.Select(backend::BackendChoice(automatic->kind));
  ASSERT_TRUE(named) << named.error().message;
  EXPECT_EQ(named->backend, automatic->backend);
  EXPECT_EQ(named->backend->Name(), BackendKindName(automatic->kind));
  auto again = backends.Select(backend::BackendChoice::Auto());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->backend, automatic->backend);
  for (const std::string& name : BackendNames()) {
    auto first = backends.Get(KindOf(name));
    auto second = backends.Get(KindOf(name));
    ASSERT_TRUE(first && second) << name;
    EXPECT_EQ(*first, *second) << name;
    EXPECT_EQ((*first)->Name(), name);
  }
}

// One guest of every kind at once on one loop and one reaper: the ptrace kinds' stops all reach
// the one Tracer, and each guest's calls are decided by its own handler.
TEST_F(BackendSetTest, GuestsOfEveryKindRunSideBySide) {
  boost::asio::io_context loop;
  launcher::ProcessReaper reaper(loop);
  backend::BackendSet backends(loop, reaper);
  const std::vector<std::string> names = BackendNames();
  std::vector<std::unique_ptr<FakeSyscallHandler>> handlers;
  for (size_t i = 0; i < names.size(); ++i) {
    const int64_t answer = 100 + static_cast<int64_t>(i);
    handlers.push_back(std::make_unique<FakeSyscallHandler>(
        [answer](const SyscallEvent&, GuestMemory&) { return Decision::Return(answer); }));
    auto backend = backends.Get(KindOf(names[i]));
    ASSERT_TRUE(backend) << backend.error().message;
    LaunchSpec spec;
    spec.guest_id = i + 1;
    spec.argv = {"child"};
    spec.intercept.Add(SYS_getppid);
    launcher::ChildFunction::Set(spec, [answer] {
      for (int round = 0; round < 200; ++round) {
        if (syscall(SYS_getppid) != answer) {
          return 1;
        }
      }
      return 0;
    });
    auto pid = (*backend)->Launch(spec, *handlers.back());
    ASSERT_TRUE(pid) << names[i] << ": " << pid.error().message;
  }
  auto all_ended = [&] {
    for (const auto& h : handlers) {
      if (!h->exit_status) {
        return false;
      }
    }
    return true;
  };
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!all_ended() && std::chrono::steady_clock::now() < end) {
    loop.run_one_for(std::chrono::milliseconds(100));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    ASSERT_TRUE(handlers[i]->exit_status) << "the guest did not end";
    EXPECT_TRUE(WIFEXITED(*handlers[i]->exit_status));
    EXPECT_EQ(WEXITSTATUS(*handlers[i]->exit_status), 0);
    EXPECT_EQ(handlers[i]->Calls(SYS_getppid).size(), 200u);
  }
}

TEST(BackendNames, HijackdRunRefusesAnUnknownBackendWithTheKnownOnes) {
  auto r = RunProcess({kHijackd, "run", "--backend", "ptrase", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("unknown backend \"ptrase\" " + KnownList()));
}

TEST(BackendNames, HijackdRunHelpDescribesEveryBackend) {
  auto r = RunProcess({kHijackd, "run", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // CLI11 wraps long help texts: compare without the line breaks and indentation.
  std::string help;
  for (char c : r.out) {
    if (c != '\n' && !(c == ' ' && !help.empty() && help.back() == ' ')) {
      help += c;
    }
  }
  for (const backend::BackendEntry& entry : backend::BackendTable()) {
    EXPECT_THAT(help, HasSubstr(std::string(entry.name()) + " (" + std::string(entry.description) +
                                ")"));
  }
}

TEST(BackendNames, HijackdCheckSaysWhichBackendsRunHere) {
  TempDir dir;
  auto r = RunProcess({kHijackd, "check", WritePolicy(dir, "p.json", R"({"module": "stats"})")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("backends on this kernel:"));
  for (const backend::BackendEntry& entry : backend::BackendTable()) {
    const bool works = entry.probe().has_value();
    EXPECT_THAT(r.out, ::testing::ContainsRegex("\n  " + std::string(entry.name()) + " +" +
                                                (works ? "on " : "off ")))
        << r.out;
  }
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\n  auto +picks [a-z-]+\n")) << r.out;
}

// The control API: Health lists the table; Launch refuses an unknown name before anything runs.
TEST(BackendNames, TheControlApiListsTheTableAndRefusesUnknownNames) {
  TempDir dir;
  const std::string address = "unix:" + dir.path() + "/hijack.sock";
  BackgroundProcess serve({kHijackd, "serve", "--listen", address}, dir.path());
  ASSERT_TRUE(serve.WaitForOutput("listening on " + address, kDeadline)) << serve.Stderr();
  auto health = RunProcess({kHijackctl, "--connect", address, "--json", "whoami"});
  ASSERT_EQ(health.exit_code, 0) << health.err;
  auto json = nlohmann::json::parse(health.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(json.is_object()) << health.out;
  EXPECT_EQ(json["backends"].get<std::vector<std::string>>(), BackendNames()) << health.out;

  auto refused = RunProcess({kHijackctl, "--connect", address, "launch", "--backend", "ptrase",
                             "--", "/bin/true"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(refused.err, HasSubstr("unknown backend \"ptrase\" " + KnownList()));
  auto guests = RunProcess({kHijackctl, "--connect", address, "--json", "guests"});
  EXPECT_EQ(guests.exit_code, 0) << guests.err;
  EXPECT_THAT(guests.out, ::testing::Not(HasSubstr("/bin/true"))) << "a guest was started";
  // Each name of the table is accepted, and the guest reports the kind it ran under.
  for (const std::string& name : BackendNames()) {
    auto launched = RunProcess({kHijackctl, "--connect", address, "--json", "launch",
                                "--backend", name, "--", "/bin/true"});
    ASSERT_EQ(launched.exit_code, 0) << name << ": " << launched.err;
    auto reply = nlohmann::json::parse(launched.out, nullptr, false);
    ASSERT_TRUE(reply.is_object()) << launched.out;
    EXPECT_EQ(reply["backend"], name);
  }
  serve.Stop(SIGTERM);
}

}  // namespace
}  // namespace hijack::testing
