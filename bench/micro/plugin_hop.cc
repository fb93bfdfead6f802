// The cost of deciding one call through a third-party plugin: in process (the plugin's decide()
// called directly, as if hijackd dlopen()ed it) against out of process (one round trip to
// hijack-policy-host over its SOCK_SEQPACKET socket, as hijackd does). The report's counter
// "ratio_to_in_process" on the out-of-process benchmark is the figure to quote.
//
//   hijack_bench_plugin_hop --benchmark_min_time=1s
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <seccomp.h>

#include <cstdio>
#include <cstdlib>

#include "daemon/modules/plugin/policy_host_client.h"
#include "hijack/plugin.h"

namespace {

constexpr const char* kConfig = R"({"deny": ["ptrace"], "errno": 1})";

hijack_call_v1 GetppidCall() {
  hijack_call_v1 c{};
  c.guest_id = 1;
  c.pid = c.tid = 1234;
  c.nr = SCMP_SYS(getppid);
  c.syscall_name = "getppid";
  return c;
}

double g_in_process_ns = 0;

void BM_PluginDecideInProcess(benchmark::State& state) {
  void* handle = dlopen(HIJACK_BENCH_EXAMPLE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    state.SkipWithError(dlerror());
    return;
  }
  auto entry = reinterpret_cast<hijack_plugin_v1_fn>(dlsym(handle, HIJACK_PLUGIN_SYMBOL));
  const hijack_plugin_v1* p = entry();
  char err[256];
  void* instance = p->create(kConfig, err, sizeof err);
  hijack_call_v1 call = GetppidCall();
  for (auto _ : state) {
    hijack_verdict_v1 v{};
    benchmark::DoNotOptimize(p->decide(instance, &call, &v));
    benchmark::DoNotOptimize(v);
  }
  p->destroy(instance);
  const auto start = std::chrono::steady_clock::now();
  // A second, timed pass gives the per-call figure the out-of-process ratio divides by.
  constexpr int kCalls = 1'000'000;
  instance = p->create(kConfig, err, sizeof err);
  for (int i = 0; i < kCalls; ++i) {
    hijack_verdict_v1 v{};
    benchmark::DoNotOptimize(p->decide(instance, &call, &v));
  }
  p->destroy(instance);
  g_in_process_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      kCalls;
  state.counters["ns_per_call"] = g_in_process_ns;
}
BENCHMARK(BM_PluginDecideInProcess);

void BM_PluginDecideOutOfProcess(benchmark::State& state) {
  setenv("HIJACK_POLICY_HOST", HIJACK_BENCH_POLICY_HOST, 0);
  auto host = hijack::modules::PolicyHostClient::Start(HIJACK_BENCH_EXAMPLE_PLUGIN, kConfig, {});
  if (!host) {
    state.SkipWithError(host.error().message.c_str());
    return;
  }
  hijack::SyscallEvent ev;
  ev.guest_id = 1;
  ev.pid = ev.tid = 1234;
  ev.nr = SCMP_SYS(getppid);
  int64_t n = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    auto v = (*host)->Decide(ev, "getppid", "");
    if (!v) {
      state.SkipWithError(v.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(*v);
    ++n;
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      static_cast<double>(n);
  state.counters["ns_per_call"] = ns;
  if (g_in_process_ns > 0) {
    state.counters["ratio_to_in_process"] = ns / g_in_process_ns;
  }
}
BENCHMARK(BM_PluginDecideOutOfProcess)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
