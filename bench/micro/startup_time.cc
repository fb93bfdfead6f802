// hijack_bench_startup: the wall time of whole short runs (start to reaped end), each mode
// interleaved with the others round by round, as medians and ratios to the first mode.
//
//   hijack_bench_startup 50 --mode native /bin/true
//                           --mode default build/release/daemon/hijackd run --quiet -- /bin/true
//   (one command line)
//
//   mode                 median_ms    p90_ms  x native
//   native                   0.412     0.530      1.00
//   default                  1.902     2.410      4.62
//
// Each round runs every mode once, in order (round-robin), so drift on a shared machine (other
// builds, frequency changes) reaches every mode alike; ratios within one invocation are what
// to compare, not absolute times across invocations. A run is posix_spawn(3) to waitpid(2) on
// CLOCK_MONOTONIC, with the child's stdout and stderr on /dev/null; a run that exits non-zero
// makes the mode "failed" (its status is printed) instead of a number. One untimed warm-up
// round first (page cache, dynamic loader caches).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Mode {
  std::string name;
  std::vector<std::string> argv;
  std::vector<double> ms;
  int failed_status = -1;  // the first failing run's wait status
};

double NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// The wall time of one run in ms, or a negative value with `status` set when it failed.
double RunOnce(const Mode& mode, int& status) {
  std::vector<char*> argv;
  for (const std::string& a : mode.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const double start = NowMs();
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    std::fprintf(stderr, "hijack_bench_startup: %s: %s\n", argv[0], std::strerror(err));
    status = 127 << 8;
    return -1;
  }
  while (waitpid(pid, &status, 0) < 0) {
  }
  const double took = NowMs() - start;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? took : -1;
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int Usage() {
  std::fprintf(stderr,
               "usage: hijack_bench_startup ROUNDS --mode NAME CMD [ARGS...] [--mode ...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    return Usage();
  }
  const int rounds = std::atoi(argv[1]);
  std::vector<Mode> modes;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0) {
      if (i + 2 >= argc) {
        return Usage();
      }
      modes.push_back({argv[i + 1], {}, {}, -1});
      i += 1;
    } else if (modes.empty()) {
      return Usage();
    } else {
      modes.back().argv.emplace_back(argv[i]);
    }
  }
  if (rounds <= 0 || modes.empty() ||
      std::any_of(modes.begin(), modes.end(), [](const Mode& m) { return m.argv.empty(); })) {
    return Usage();
  }
  for (int round = -1; round < rounds; ++round) {
    for (Mode& mode : modes) {
      if (mode.failed_status >= 0) {
        continue;
      }
      int status = 0;
      const double ms = RunOnce(mode, status);
      if (ms < 0) {
        mode.failed_status = status;
      } else if (round >= 0) {
        mode.ms.push_back(ms);
      }
    }
  }
  const double base = modes[0].ms.empty() ? 0 : Percentile(modes[0].ms, 0.5);
  std::printf("%-20s %10s %9s %9s\n", "mode", "median_ms", "p90_ms",
              ("x " + modes[0].name).c_str());
  for (const Mode& mode : modes) {
    if (mode.failed_status >= 0) {
      std::printf("%-20s failed (wait status %#x)\n", mode.name.c_str(), mode.failed_status);
      continue;
    }
    const double median = Percentile(mode.ms, 0.5);
    std::printf("%-20s %10.3f %9.3f %9.2f\n", mode.name.c_str(), median,
                Percentile(mode.ms, 0.9), base > 0 ? median / base : 0.0);
  }
  return 0;
}
