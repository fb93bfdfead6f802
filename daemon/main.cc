// hijackd: the Hijack supervisor.
//
//   hijackd run [--policy FILE] [--backend auto|notify] [--intercept CLASSES]
//               [--trace FILE] [--trace-format text|json] -- CMD ARGS...
//               [--listen unix:PATH|tcp:127.0.0.1:PORT] -- CMD ARGS...
//   hijackd serve [--listen ADDR] [--socket-mode 0600] [--socket-group G] [--listen-any]
//                 [--on-exit kill|detach]
//   hijackd check FILE          validate a policy without running anything
//   hijackd modules             list the built-in policy modules
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "daemon/control/listen_address.h"
#include "daemon/control/serve_command.h"
#include "daemon/policy/policy_set.h"
#include "daemon/run/run_command.h"
#include "daemon/syscalls/syscall_table.h"

namespace {

void SetUpLogging(const std::string& level) {
  // Multi-threaded: the control API logs from gRPC's threads.
  auto logger = spdlog::stderr_color_mt("hijackd");
  logger->set_pattern("hijackd: %^%v%$");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hijackd: take control of unmodified Linux programs from user space"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  hijackd run -- ls /                      # every syscall counted, table at the end\n"
      "  hijackd run --policy policies/deny.json -- cat /etc/hostname\n"
      "  hijackd run --trace - --intercept %file -- make -j2\n"
      "  hijackd run --listen unix:/tmp/h.sock -- lighttpd -D -f l.conf   # re-police it live\n"
      "  hijackd serve                            # the API on the default unix socket (0600)\n"
      "  hijackd serve --listen tcp:127.0.0.1:7070\n"
      "  hijackd check my-policy.json");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  hijack::run::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "run one guest in the foreground");
  run_cmd->add_option("--policy", run.policy_file, "policy JSON file (default: built-in stats)");
  run_cmd
      ->add_option("--backend", run.backend,
                   "auto (notify, else ptrace, else ptrace-all), notify, ptrace, ptrace-all")
      ->default_val("auto");
  run_cmd->add_option("--intercept", run.intercept,
                      "extra syscalls or %classes for the intercept set, comma separated")
      ->delimiter(',')->allow_extra_args(false);
  run_cmd->add_option("--trace", run.trace_file, "trace calls to FILE ('-' for stderr)");
  run_cmd->add_option("--trace-format", run.trace_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  run_cmd->add_flag("--quiet", run.quiet, "no report at the end");
  run_cmd->add_flag("--agent,!--no-agent", run.agent,
                    "preload libhijack-agent.so (the default, notify backend only): calls that only "
                    "observers need are counted in the guest; --no-agent sends every call to the "
                    "supervisor");
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
  run_cmd->add_option("command", run.command, "the program and its arguments, after --")
      ->required();

  hijack::control::ServeOptions serve;
  serve.server.listen = hijack::control::DefaultControlAddress();
  std::string socket_mode = "0600";
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "run as a daemon: launch and steer guests over the control API (hijackctl)");
  serve_cmd->add_option("--listen", serve.server.listen, "unix:PATH or tcp:HOST:PORT")
      ->capture_default_str();
  serve_cmd->add_option("--socket-mode", socket_mode, "mode of the unix socket, octal")
      ->capture_default_str();
  serve_cmd->add_option("--socket-group", serve.server.socket_group,
                        "group of the unix socket (with --socket-mode 0660 to share it)");
  serve_cmd->add_flag("--listen-any", serve.server.listen_any,
                      "allow a TCP address that is not loopback (no authentication: warns)");
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
    run.sync_wakeup = !no_sync;
    if (run_listen) {
      hijack::control::ControlServerOptions control;
      control.listen = *run_listen;
      run.serve_control = [control](hijack::supervisor::Supervisor& sup) {
        return hijack::control::ServeRunControl(control, sup);
      };
    }
    return hijack::run::RunGuest(run);
  }
  if (serve_cmd->parsed()) {
    char* end = nullptr;
    unsigned long mode = std::strtoul(socket_mode.c_str(), &end, 8);
    if (end == socket_mode.c_str() || *end != '\0' || mode > 0777) {
      spdlog::error("--socket-mode {}: expected an octal mode such as 0600", socket_mode);
      return 2;
    }
    serve.server.socket_mode = static_cast<unsigned>(mode);
    serve.sync_wakeup = !no_sync;
    return hijack::control::RunServe(serve);
  }
  const auto& registry = hijack::policy::ModuleRegistry::BuiltIn();
  if (check_cmd->parsed()) {
    auto set = hijack::policy::PolicySet::FromFile(check_file, registry);
    if (!set) {
      spdlog::error("{}", set.error().message);
      return 2;
    }
    std::printf("%s: valid, %zu modules, intercepts %zu syscalls\n", check_file.c_str(),
                (*set)->modules().size(), (*set)->needed().size());
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
