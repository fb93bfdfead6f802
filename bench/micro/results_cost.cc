// What seeing results costs: a guest whose calls all go to the supervisor and fail (openat of a
// missing file from a raw syscall instruction, which the agent cannot take), traced with every
// result, as a ratio to native and to strace -f in the same run.
//
//   hijack_bench_results_cost HIJACKD [CALLS] [REPEATS]
//
// Modes, each a whole `hijackd run` (or strace) of this program's own guest mode, whose loop
// times itself with CLOCK_MONOTONIC (vDSO), so start-up is not counted:
//
//   native                     the guest alone
//   native, observer attached  the guest alone while a traced hijackd guest keeps the kernel
//                              observer attached (the cost every other process pays: one failed
//                              hash lookup at each syscall exit)
//   notify + observer          hijackd run --backend notify --trace /dev/null: every result
//   notify, observer off       the same with --no-kernel-observer: results unknown
//   ptrace                     hijackd run --backend ptrace --trace /dev/null
//   strace -f                  strace -f -o /dev/null
//
// Each mode runs REPEATS times (default 5), interleaved; the median per call is reported. Needs
// root for the observer (without, its rows say the observer is off).
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

// The guest: CALLS failing openat calls, then the elapsed nanoseconds on stdout.
int Guest(long calls) {
  const uint64_t start = MonotonicNs();
  for (long i = 0; i < calls; ++i) {
    syscall(SYS_openat, AT_FDCWD, "/nonexistent/results-cost", O_RDONLY);
  }
  std::printf("%llu\n", static_cast<unsigned long long>(MonotonicNs() - start));
  return 0;
}

// Runs argv to its end and returns what it printed on stdout (the guest's nanoseconds), or -1.
long long RunTimed(const std::vector<std::string>& argv) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[256];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) {
    return -1;
  }
  return std::atoll(text.c_str());
}

struct Mode {
  std::string name;
  std::vector<std::string> prefix;  // before the guest's own argv
  bool with_attached_observer = false;
  std::vector<double> per_call_ns;
};

double Median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "guest") == 0) {
    return Guest(std::atol(argv[2]));
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s HIJACKD [CALLS] [REPEATS]\n", argv[0]);
    return 2;
  }
  const std::string hijackd = argv[1];
  const long calls = argc > 2 ? std::atol(argv[2]) : 20000;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    std::perror("readlink /proc/self/exe");
    return 1;
  }
  self[len] = '\0';
  const std::vector<std::string> guest = {self, "guest", std::to_string(calls)};
  std::vector<Mode> modes = {
      {"native", {}},
      {"native, observer attached", {}, true},
      {"notify + observer", {hijackd, "run", "--backend", "notify", "--quiet", "--trace",
                             "/dev/null", "--"}},
      {"notify, observer off", {hijackd, "run", "--backend", "notify", "--quiet", "--trace",
                                "/dev/null", "--no-kernel-observer", "--"}},
      {"ptrace", {hijackd, "run", "--backend", "ptrace", "--quiet", "--trace", "/dev/null",
                  "--"}},
      {"strace -f", {"/usr/bin/strace", "-f", "-o", "/dev/null"}},
  };
  for (int r = 0; r < repeats; ++r) {
    for (Mode& m : modes) {
      if (m.with_attached_observer) {
        // A traced cat blocked in read(2) on a pipe keeps the observer attached meanwhile. Its
        // first trace line (on a pipe of ours) says the observer is loaded: the supervisor opens
        // it before it starts a notify guest.
        int hold[2];
        int said[2];
        if (pipe2(hold, O_CLOEXEC) != 0 || pipe2(said, O_CLOEXEC) != 0) {
          return 1;
        }
        const pid_t holder = fork();
        if (holder == 0) {
          dup2(hold[0], 0);
          dup2(said[1], 2);
          execl(hijackd.c_str(), hijackd.c_str(), "run", "--backend", "notify", "--quiet",
                "--trace", "-", "--", "/bin/cat", static_cast<char*>(nullptr));
          _exit(127);
        }
        close(hold[0]);
        close(said[1]);
        // A trace line, not a warning hijackd printed before the launch.
        bool started = false;
        std::string line;
        for (char c; !started && read(said[0], &c, 1) == 1;) {
          if (c != '\n') {
            line += c;
            continue;
          }
          started = line.find(") = ") != std::string::npos;
          line.clear();
        }
        const long long ns = started ? RunTimed(guest) : -1;
        close(hold[1]);
        char sink[4096];
        while (read(said[0], sink, sizeof sink) > 0) {
        }
        close(said[0]);
        waitpid(holder, nullptr, 0);
        if (ns > 0) {
          m.per_call_ns.push_back(static_cast<double>(ns) / static_cast<double>(calls));
        }
        continue;
      }
      std::vector<std::string> argv_mode = m.prefix;
      argv_mode.insert(argv_mode.end(), guest.begin(), guest.end());
      const long long ns = RunTimed(argv_mode);
      if (ns > 0) {
        m.per_call_ns.push_back(static_cast<double>(ns) / static_cast<double>(calls));
      }
    }
  }
  const double native = Median(modes[0].per_call_ns);
  const double strace = Median(modes.back().per_call_ns);
  std::printf("%-28s %12s %10s %10s\n", "mode (failing openat)", "ns/call", "x native",
              "x strace");
  for (const Mode& m : modes) {
    const double ns = Median(m.per_call_ns);
    if (m.per_call_ns.empty()) {
      std::printf("%-28s %12s\n", m.name.c_str(), "failed");
      continue;
    }
    std::printf("%-28s %12.0f %10.2f %10.3f\n", m.name.c_str(), ns, ns / native, ns / strace);
  }
  std::printf("(%ld calls, median of %d runs; \"x native\" is the slowdown, \"x strace\" the "
              "fraction of strace -f's time)\n",
              calls, repeats);
  return 0;
}
