// hijackd: the Hijack supervisor.
//
//   hijackd run [--policy FILE] [--backend auto|NAME] [--intercept CLASSES]
//               [--trace FILE] [--trace-format text|json] -- CMD ARGS...
//               [--listen unix:PATH|tcp:127.0.0.1:PORT] [CONTROL OPTIONS] -- CMD ARGS...
//   hijackd serve [--listen ADDR] [--on-exit kill|detach] [CONTROL OPTIONS]
//   CONTROL OPTIONS (control_options.h): --socket-mode, --socket-group, --admin-group,
//     --launch-group, --watch-group, --tls-cert/--tls-key/--tls-ca, --token-file,
//     --insecure-tcp, --listen-any, --audit-log
//   hijackd check FILE          validate a policy without running anything; say which
//                               protection layers and backends this kernel gives
//   hijackd modules             list the built-in policy modules
#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <optional>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/listen_address.h"
#include "daemon/backend/backend_table.h"
#include "daemon/control/control_options.h"
#include "daemon/control/serve_command.h"
#include "daemon/modules/builtin.h"
#include "daemon/policy/policy_set.h"
#include "daemon/run/run_command.h"
#include "daemon/supervisor/guest_guard.h"
#include "daemon/syscalls/syscall_table.h"

namespace {

void SetUpLogging(const std::string& level) {
  // Multi-threaded: the control API logs from gRPC's threads.
  auto logger = spdlog::stderr_color_mt("hijackd");
  logger->set_pattern("hijackd: %^%v%$");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// Which backends a guest could run under here, and what --backend auto would pick: each
// table row's probe (each forks a short-lived child).
void PrintBackends() {
  std::printf("backends on this kernel:\n");
  std::optional<std::string_view> automatic;
  for (const hijack::backend::BackendEntry& entry : hijack::backend::BackendTable()) {
    auto works = entry.probe();
    if (works && !automatic) {
      automatic = entry.name();
    }
    std::printf("  %-26s %-3s %s\n", std::string(entry.name()).c_str(), works ? "on" : "off",
                works ? std::string(entry.description).c_str() : works.error().message.c_str());
  }
  std::printf("  %-26s picks %s\n", std::string(hijack::backend::BackendChoice::kAutoName).c_str(),
              automatic ? std::string(*automatic).c_str() : "none (no backend runs here)");
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else: a guest runs with hijackd's uid, and a dumpable process of that uid
  // may be traced, read (process_vm_readv(2), /proc/PID/mem) and robbed of its descriptors
  // (pidfd_getfd(2): the seccomp listeners) by any other process of that uid (ptrace(2),
  // "Ptrace access mode checking"). Children inherit the flag until they exec.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::fprintf(stderr, "hijackd: prctl(PR_SET_DUMPABLE, 0): %s\n", std::strerror(errno));
    return 1;
  }
  CLI::App app{"hijackd: take control of unmodified Linux programs from user space"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  hijackd run -- ls /                      # every syscall counted, table at the end\n"
      "  hijackd run --policy policies/deny.json -- cat /etc/hostname\n"
      "  hijackd run --trace - --intercept %file -- make -j2\n"
      "  hijackd run --listen unix:/tmp/h.sock -- lighttpd -D -f l.conf   # re-police it live\n"
      "  hijackd serve                            # the API on the default unix socket (0600)\n"
      "  hijackd serve --listen tcp:127.0.0.1:7070 --token-file ~/.hijack-token\n"
      "  hijackd serve --listen tcp:0.0.0.0:7070 --listen-any --tls-cert s.pem --tls-key s.key "
      "--tls-ca clients-ca.pem\n"
      "  hijackd check my-policy.json");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  hijack::run::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "run one guest in the foreground");
  run_cmd->add_option("--policy", run.policy_file, "policy JSON file (default: built-in stats)");
  std::string run_backend(hijack::backend::BackendChoice::kAutoName);
  run_cmd->add_option("--backend", run_backend, hijack::backend::BackendOptionHelp())
      ->check([](const std::string& name) -> std::string {
        auto choice = hijack::backend::ParseBackendChoice(name);
        return choice ? "" : choice.error().message;
      })
      ->capture_default_str();
  run_cmd->add_option("--intercept", run.intercept,
                      "extra syscalls or %classes for the intercept set, comma separated")
      ->delimiter(',')->allow_extra_args(false);
  run_cmd->add_option("--trace", run.trace_file, "trace calls to FILE ('-' for stderr)");
  run_cmd->add_option("--trace-format", run.trace_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  run_cmd->add_flag("--quiet", run.quiet, "no report at the end");
  run_cmd->add_flag(
      "--agent,!--no-agent", run.agent,
      "preload libhijack-agent.so (the default, notify backend only): calls that only "
      "observers need are counted in the guest; --no-agent sends every call to the "
      "supervisor");
  run_cmd->add_flag("--allow-io-uring", run.allow_io_uring,
                    "let the guest use io_uring even while the policy enforces (its operations "
                    "never pass through seccomp, so no module can decide them)");
  bool no_landlock_scope = false;
  run_cmd->add_flag("--no-landlock-scope", no_landlock_scope,
                    "do not scope the guest with Landlock; the supervisor then refuses signals, "
                    "traces and memory access aimed outside the guest's tree itself");
  const std::string contain_help =
      "what ends the whole guest tree with hijackd, even if hijackd is killed: pidns (a pid "
      "namespace whose init dies with hijackd; with a user namespace when unprivileged), none "
      "(only the main process, through PR_SET_PDEATHSIG; orphans that clear it can outlive a "
      "killed hijackd), auto (pidns where the kernel allows it, else none with a warning)";
  run_cmd->add_option("--contain", run.contain, contain_help)
      ->check(CLI::IsMember({"auto", "pidns", "none"}))
      ->capture_default_str();
  bool no_sync = false;
  run_cmd->add_flag("--no-sync-wakeup", no_sync,
                    "do not ask for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (for measurements)");
  std::optional<std::string> run_listen;
  run_cmd->add_option("--listen", run_listen,
                      "also serve the control API for this guest (unix:PATH or tcp:HOST:PORT)");
  hijack::control::ControlServerOptions run_control;
  hijack::control::ControlCliState run_control_cli;
  hijack::control::AddControlOptions(run_cmd, run_control, run_control_cli);
  run_cmd->add_option("command", run.command, "the program and its arguments, after --")
      ->required();

  hijack::control::ServeOptions serve;
  serve.server.listen = hijack::common::DefaultControlAddress();
  hijack::control::ControlCliState serve_control_cli;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "run as a daemon: launch and steer guests over the control API (hijackctl)");
  serve_cmd->add_option("--listen", serve.server.listen, "unix:PATH or tcp:HOST:PORT")
      ->capture_default_str();
  hijack::control::AddControlOptions(serve_cmd, serve.server, serve_control_cli);
  serve_cmd->add_option("--on-exit", serve.on_exit,
                        "what happens to guests when hijackd stops: kill (SIGTERM, then SIGKILL); "
                        "detach is impossible under the notify backend (filters cannot be "
                        "removed; guests die with their supervisor)")
      ->check(CLI::IsMember({"kill", "detach"}))
      ->capture_default_str();
  serve_cmd->add_option("--contain", serve.contain, contain_help)
      ->check(CLI::IsMember({"auto", "pidns", "none"}))
      ->capture_default_str();
  serve_cmd->add_flag("--no-sync-wakeup", no_sync,
                      "do not ask for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (for measurements)");

  std::string check_file;
  CLI::App* check_cmd = app.add_subcommand("check", "validate a policy file");
  check_cmd->add_option("file", check_file, "policy JSON file")->required();

  CLI::App* modules_cmd = app.add_subcommand("modules", "list the built-in policy modules");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  SetUpLogging(log_level);

  if (run_cmd->parsed()) {
    auto backend = hijack::backend::ParseBackendChoice(run_backend);
    if (!backend) {
      spdlog::error("{}", backend.error().message);
      return 2;
    }
    run.backend = *backend;
    run.sync_wakeup = !no_sync;
    if (auto ok = hijack::control::FinishControlOptions(run_control, run_control_cli); !ok) {
      spdlog::error("{}", ok.error().message);
      return 2;
    }
    run.landlock_scope = !no_landlock_scope;
    if (run_listen) {
      hijack::control::ControlServerOptions control = run_control;
      control.listen = *run_listen;
      run.serve_control = [control](hijack::supervisor::Supervisor& sup) {
        return hijack::control::ServeRunControl(control, sup);
      };
    }
    return hijack::run::RunGuest(run);
  }
  if (serve_cmd->parsed()) {
    if (auto ok = hijack::control::FinishControlOptions(serve.server, serve_control_cli); !ok) {
      spdlog::error("{}", ok.error().message);
      return 2;
    }
    serve.sync_wakeup = !no_sync;
    return hijack::control::RunServe(serve);
  }
  const auto& registry = hijack::modules::BuiltInModules();
  if (check_cmd->parsed()) {
    auto set = hijack::policy::PolicySet::FromFile(check_file, registry);
    if (!set) {
      spdlog::error("{}", set.error().message);
      return 2;
    }
    std::printf("%s: valid, %zu modules, intercepts %zu syscalls\n", check_file.c_str(),
                (*set)->modules().size(), (*set)->needed().size());
    // What a guest launched by this hijackd, on this kernel, would be protected by.
    const auto layers = hijack::supervisor::ProbeProtection({});
    std::printf("protection on this kernel:\n");
    for (const auto& layer : layers.Describe()) {
      std::printf("  %-26s %-3s %s\n", layer.name.c_str(), layer.active ? "on" : "off",
                  layer.detail.c_str());
    }
    if (!layers.landlock_scope) {
      spdlog::warn("no Landlock scoping on this kernel: the supervisor refuses cross-tree calls "
                   "itself (docs/SECURITY.md)");
    }
    PrintBackends();
    return 0;
  }
  if (modules_cmd->parsed()) {
    for (const auto* info : registry.List()) {
      std::printf("%-10s %s\n", info->name.c_str(), info->summary.c_str());
      for (const auto& [key, meaning] : info->settings.items()) {
        std::printf("  %-10s %s\n", key.c_str(), meaning.get<std::string>().c_str());
      }
    }
    return 0;
  }
  return 2;
}
