// What the kernel floor costs: one openat+close of an allowed file, and one connect of a TCP
// socket to an allowed port, natively, under fs_guard / net_guard without the Landlock floor,
// and with it, per backend, as ratios to native in one run.
//
//   hijack_bench_landlock_cost open|connect [--benchmark_min_time=0.2] [--benchmark_repetitions=3]
//
// One call per run, so that the table's "x native" divides by that call's native row.
// The guest (bench/micro/batch_guest.h) runs the calls in batches and times each batch itself.
// The open is of a file beneath the one allowed tree; the supervisor checks it (fs_guard check
// mode) and, with the floor, the kernel checks it again against the Landlock domain. The connect
// goes to a listener of this process that accepts and closes; the socket(2) and close(2) around
// it run natively in every mode (only connect is intercepted).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <tuple>

#include "bench/micro/batch_guest.h"
#include "bench/micro/ratio_reporter.h"

namespace {

using hijack::bench::BatchGuest;
using hijack::bench::MonotonicNs;

constexpr uint64_t kBatch = 200;

std::string g_dir;    // a temporary directory with the file the guest opens
int g_port = 0;       // the listener the guest connects to

uint64_t TimedOpens(uint64_t count) {
  const std::string path = g_dir + "/allowed/file";
  const uint64_t start = MonotonicNs();
  for (uint64_t i = 0; i < count; ++i) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::abort();  // a floor tighter than the module would show here
    }
    close(fd);
  }
  return MonotonicNs() - start;
}

uint64_t TimedConnects(uint64_t count) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(g_port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const uint64_t start = MonotonicNs();
  for (uint64_t i = 0; i < count; ++i) {
    const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::abort();
    }
    close(s);
  }
  return MonotonicNs() - start;
}

struct Mode {
  std::string name;
  hijack::bench::GuestMode guest;
  uint64_t (*calls)(uint64_t);
};

void BM_Call(benchmark::State& state, const Mode& mode) {
  std::unique_ptr<BatchGuest> guest;
  try {
    guest = std::make_unique<BatchGuest>(mode.guest, [&mode](int in, int out) {
      hijack::LaunchSpec spec;
      spec.argv = {"bench-guest"};
      hijack::launcher::ChildFunction::Set(
          spec, [in, out, calls = mode.calls] {
            return hijack::bench::ServeBatches(in, out, calls);
          });
      return spec;
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  hijack::bench::RunBatches(state, *guest, kBatch);
}

std::vector<Mode> Modes(const std::string& which) {
  const std::string fs = R"({"version": 1, "modules": [{"module": "fs_guard", "rules": [
      {"allow": [")" + g_dir + R"(/allowed/**"], "access": ["read"]}]}]})";
  const std::string net = R"({"version": 1, "modules": [{"module": "net_guard",
      "connect_allow": ["127.0.0.1:)" + std::to_string(g_port) + R"("]}]})";
  std::vector<Mode> out;
  for (const auto& [call, policy, fn] :
       {std::tuple{"open", fs, &TimedOpens}, std::tuple{"connect", net, &TimedConnects}}) {
    if (which != call) {
      continue;
    }
    out.push_back({std::string(call) + "/native", {}, fn});
    for (const char* backend : {"notify", "ptrace"}) {
      for (bool floor : {false, true}) {
        out.push_back({std::string(call) + "/" + backend + (floor ? "+landlock" : ""),
                       {.backend = backend, .policy = policy, .landlock_floor = floor},
                       fn});
      }
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  hijack::bench::BlockSigchld();
  char tmpl[] = "/tmp/hijack-landlock-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return 1;
  }
  g_dir = tmpl;
  const std::string allowed = g_dir + "/allowed";
  mkdir(allowed.c_str(), 0755);
  close(open((allowed + "/file").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  // The listener: accepted and closed at once, so the backlog never fills.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return 1;
  }
  g_port = ntohs(sa.sin_port);
  std::thread([listener] {
    for (;;) {
      const int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        close(c);
      }
    }
  }).detach();
  std::string which = "open";
  if (argc > 1 && argv[1][0] != '-') {
    which = argv[1];
    --argc;
    ++argv;
  }
  if (which != "open" && which != "connect") {
    std::fprintf(stderr, "usage: hijack_bench_landlock_cost open|connect [benchmark flags]\n");
    return 2;
  }
  static const std::vector<Mode> modes = Modes(which);
  for (const Mode& mode : modes) {
    benchmark::RegisterBenchmark(mode.name.c_str(), BM_Call, mode)
        ->UseManualTime()
        ->Unit(benchmark::kNanosecond);
  }
  const int status = hijack::bench::RunWithRatios(
      &argc, argv, which == "open" ? "openat+close per call" : "socket+connect+close per call");
  unlink((allowed + "/file").c_str());
  rmdir(allowed.c_str());
  rmdir(g_dir.c_str());
  return status;
}
