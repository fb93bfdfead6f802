// Per-call cost in TSC cycles, one sample per call, for the percentile table of bench/run.
//
//   hijack_bench_call_cost guest FILE N         N write(2)s of 1 byte to /dev/null, each timed
//   hijack_bench_call_cost pipe FILE N          N one-byte round trips to a forked child over pipes
//   hijack_bench_call_cost tsc                  TSC frequency in Hz and how it was obtained
//   hijack_bench_call_cost report NAME=FILE...  CSV: median and p99 in cycles and ns, x native
//
// bench/run runs `guest` natively and under every backend (hijackd run ... -- this guest), so the
// same binary and the same loop are measured in every mode; only what sits between the call and
// the kernel changes. Each sample is lfence;rdtsc ... rdtscp;lfence around one libc write(), so
// it includes the ~20-40 cycles of the timer itself (the native row shows that floor). Samples are
// stored as uint32 cycles with pwrite64(), which no benchmark policy intercepts; `report`
// concatenates every file given for one NAME (the interleaved rounds) before taking percentiles.
#include <cpuid.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

inline uint64_t Begin() {
  _mm_lfence();
  return __rdtsc();
}

inline uint64_t End() {
  unsigned aux;
  uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}

uint32_t Clamp(uint64_t cycles) { return cycles > UINT32_MAX ? UINT32_MAX : uint32_t(cycles); }

int Save(const char* path, const std::vector<uint32_t>& samples) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(path);
    return 1;
  }
  const char* p = reinterpret_cast<const char*>(samples.data());
  size_t left = samples.size() * sizeof(uint32_t);
  off_t off = 0;
  while (left > 0) {
    ssize_t n = pwrite(fd, p + off, left, off);
    if (n <= 0) {
      std::perror(path);
      return 1;
    }
    off += n;
    left -= size_t(n);
  }
  close(fd);
  return 0;
}

int GuestMain(const char* path, size_t n) {
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull < 0) {
    return 1;
  }
  for (int i = 0; i < 1000; ++i) {  // warm caches, the agent's page, the supervisor's maps
    (void)!write(devnull, "x", 1);
  }
  std::vector<uint32_t> samples(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t t0 = Begin();
    (void)!write(devnull, "x", 1);
    samples[i] = Clamp(End() - t0);
  }
  return Save(path, samples);
}

int PipeMain(const char* path, size_t n) {
  int ping[2], pong[2];
  if (pipe2(ping, O_CLOEXEC) != 0 || pipe2(pong, O_CLOEXEC) != 0) {
    return 1;
  }
  pid_t child = fork();
  if (child == 0) {
    close(ping[1]);
    close(pong[0]);
    char c;
    while (read(ping[0], &c, 1) == 1) {
      if (write(pong[1], &c, 1) != 1) {
        _exit(1);
      }
    }
    _exit(0);
  }
  close(ping[0]);
  close(pong[1]);
  std::vector<uint32_t> samples(n);
  char c = 'x';
  for (size_t i = 0; i < n + 1000; ++i) {
    uint64_t t0 = Begin();
    if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
      return 1;
    }
    if (i >= 1000) {
      samples[i - 1000] = Clamp(End() - t0);
    }
  }
  close(ping[1]);
  waitpid(child, nullptr, 0);
  return Save(path, samples);
}

uint64_t MonoRawNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

// CPUID leaf 0x15 gives the TSC/crystal ratio and, on most CPUs that have it, the crystal
// frequency; hypervisors often leave it zero, and then the TSC is measured against
// CLOCK_MONOTONIC_RAW over 200 ms (the kernel's own clocksource; accurate to ~0.01%).
double TscHz(std::string* how) {
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, nullptr) >= 0x15) {
    __cpuid_count(0x15, 0, a, b, c, d);
    if (a != 0 && b != 0 && c != 0) {
      *how = "cpuid-0x15";
      return double(c) * b / a;
    }
  }
  uint64_t best = 0;
  double hz = 0;
  for (int i = 0; i < 3; ++i) {  // the fastest bracket is the least disturbed one
    uint64_t n0 = MonoRawNs(), t0 = __rdtsc();
    timespec pause{0, 200'000'000};
    nanosleep(&pause, nullptr);
    uint64_t t1 = __rdtsc(), n1 = MonoRawNs();
    if (best == 0 || n1 - n0 < best) {
      best = n1 - n0;
      hz = double(t1 - t0) * 1e9 / double(n1 - n0);
    }
  }
  *how = "calibrated-vs-CLOCK_MONOTONIC_RAW";
  return hz;
}

int ReportMain(int argc, char** argv) {
  std::string how;
  double hz = TscHz(&how);
  std::vector<std::string> order;
  std::map<std::string, std::vector<uint32_t>> all;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    std::string name = arg.substr(0, eq);
    if (!all.contains(name)) {
      order.push_back(name);
    }
    auto& v = all[name];
    FILE* f = std::fopen(arg.c_str() + eq + 1, "rb");
    if (f == nullptr) {
      continue;  // a mode that did not run: reported as "not built" / "failed" by bench/run
    }
    uint32_t buf[4096];
    size_t got;
    while ((got = std::fread(buf, sizeof(uint32_t), 4096, f)) > 0) {
      v.insert(v.end(), buf, buf + got);
    }
    std::fclose(f);
  }
  auto pct = [](std::vector<uint32_t>& v, double q) -> double {
    size_t k = std::min(v.size() - 1, size_t(q * double(v.size())));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return v[k];
  };
  std::map<std::string, std::pair<double, double>> stat;
  for (auto& [name, v] : all) {
    if (!v.empty()) {
      stat[name] = {pct(v, 0.5), pct(v, 0.99)};
    }
  }
  double native = stat.contains("native") ? stat["native"].first : 0;
  std::printf("mode,samples,median_cycles,p99_cycles,median_ns,p99_ns,x_native_median,tsc_hz,"
              "tsc_source\n");
  for (const auto& name : order) {
    if (!stat.contains(name)) {
      std::printf("%s,0,,,,,,%.0f,%s\n", name.c_str(), hz, how.c_str());
      continue;
    }
    auto [med, p99] = stat[name];
    std::printf("%s,%zu,%.0f,%.0f,%.1f,%.1f,%.2f,%.0f,%s\n", name.c_str(), all[name].size(), med,
                p99, med * 1e9 / hz, p99 * 1e9 / hz, native > 0 ? med / native : 0.0, hz,
                how.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if ((cmd == "guest" || cmd == "pipe") && argc == 4) {
    size_t n = std::strtoull(argv[3], nullptr, 10);
    return cmd == "guest" ? GuestMain(argv[2], n) : PipeMain(argv[2], n);
  }
  if (cmd == "tsc") {
    std::string how;
    double hz = TscHz(&how);
    std::printf("%.0f %s\n", hz, how.c_str());
    return 0;
  }
  if (cmd == "report") {
    return ReportMain(argc - 2, argv + 2);
  }
  std::fprintf(stderr,
               "usage: %s guest FILE N | pipe FILE N | tsc | report NAME=FILE...\n", argv[0]);
  return 2;
}
