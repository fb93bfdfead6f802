// hijackd: the Hijack supervisor.
//
//   hijackd run [--policy FILE] [--backend auto|NAME] [--intercept CLASSES]
//               [--trace FILE] [--trace-format text|json] [--] CMD ARGS...
//               [--listen unix:PATH|tcp:127.0.0.1:PORT] [CONTROL OPTIONS] -- CMD ARGS...
//   hijackd serve [--listen ADDR] [--on-exit kill|detach] [CONTROL OPTIONS]
//   CONTROL OPTIONS (control_options.h): --socket-mode, --socket-group, --admin-group,
//     --launch-group, --watch-group, --tls-cert/--tls-key/--tls-ca, --token-file,
//     --insecure-tcp, --listen-any, --audit-log
//   hijackd strace [STRACE OPTIONS] [--] CMD ARGS...   (run/strace_options.h)
//   hijackd check FILE          validate a policy without running anything; say which
//                               protection layers and backends this kernel gives
//   hijackd modules             list the built-in policy modules
#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fmt/format.h>
#include <optional>
#include <span>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/cli_docs.h"
#include "common/listen_address.h"
#include "common/terminal.h"
#include "common/version.h"
#include "daemon/backend/backend_table.h"
#include "daemon/control/control_options.h"
#include "daemon/control/control_plane.h"
#include "daemon/control/host_features.h"
#include "daemon/control/server_options.h"
#include "daemon/modules/builtin.h"
#include "daemon/modules/start_files.h"
#include "daemon/policy/policy_manual.h"
#include "daemon/policy/policy_schema.h"
#include "daemon/policy/policy_set.h"
#include "daemon/run/run_command.h"
#include "daemon/run/start_check.h"
#include "daemon/supervisor/guest_guard.h"
#include "daemon/syscalls/syscall_table.h"

namespace {

void SetUpLogging(const std::string& level) {
  // Multi-threaded: the control API logs from gRPC's threads.
  // NO_COLOR (common/terminal.h): no escapes in the log, even on a terminal.
  auto logger = spdlog::stderr_color_mt("hijackd", hijack::common::NoColorRequested()
                                                       ? spdlog::color_mode::never
                                                       : spdlog::color_mode::automatic);
  logger->set_pattern("hijackd: %^%v%$");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// `hijackd --version`: the build, then what this host offers it (host_features.h).
std::string VersionText() {
  std::string text = "hijackd " + std::string(hijack::common::Version()) + " (git " +
                     std::string(hijack::common::GitRevision()) + ")\n";
  for (const auto& f : hijack::control::ProbeHostFeatures()) {
    text += "  " + f.name + std::string(f.name.size() < 20 ? 20 - f.name.size() : 1, ' ') +
            f.detail + "\n";
  }
  text.pop_back();  // CLI11 ends the text with a newline of its own
  return text;
}

// Where the command name is among the arguments after argv[0]: the first word that is neither an
// option of hijackd itself nor an option's value; args.size() when there is none.
size_t CommandIndex(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      return args.size();
    }
    if (args[i] == "--log-level") {
      ++i;  // its value
    } else if (!args[i].starts_with("-")) {
      return i;
    }
  }
  return args.size();
}

// The command word, when it names no command: CLI11 would only say "A subcommand is required".
std::optional<std::string> UnknownCommand(const CLI::App& app,
                                          const std::vector<std::string>& args) {
  const size_t at = CommandIndex(args);
  if (at == args.size()) {
    return std::nullopt;
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(args[at])) {
      return std::nullopt;
    }
  }
  return args[at];
}

// The arguments after argv[0], with a "--" put before the command of `hijackd run` when the user
// left it out: everything from the command's name on belongs to the command, as with env(1) and
// strace(1), so `hijackd run ls -la` runs `ls -la` instead of failing on "-la".
std::vector<std::string> WithCommandMark(const CLI::App& run, std::vector<std::string> args) {
  const size_t command = CommandIndex(args);
  if (command == args.size() || !run.check_name(args[command])) {
    return args;
  }
  for (auto at = args.begin() + static_cast<std::ptrdiff_t>(command) + 1; at != args.end();
       ++at) {
    const std::string& arg = *at;
    if (arg == "--") {
      return args;
    }
    if (!arg.starts_with("-") || arg == "-") {
      args.insert(at, "--");
      return args;
    }
    if (arg.find('=') != std::string::npos) {
      continue;  // --name=value
    }
    const CLI::Option* opt = run.get_option_no_throw(arg);
    if (opt == nullptr && !arg.starts_with("--")) {
      continue;  // an unknown short option: CLI11 names it
    }
    if (opt != nullptr && opt->get_items_expected_max() > 0 && std::next(at) != args.end()) {
      ++at;  // the option's value
    }
  }
  return args;
}

std::string CommandNames(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return names;
}

// Where the last column of check's tables starts ("  NAME(26) ON(3) "): wrapped lines go on
// there.
constexpr size_t kDetailColumn = 2 + 26 + 1 + 3 + 1;

// Which backends a guest could run under here, and what --backend auto would pick: each
// table row's probe (each forks a short-lived child).
void PrintBackends(size_t width) {
  std::printf("backends on this kernel:\n");
  std::optional<std::string_view> automatic;
  for (const hijack::backend::BackendEntry& entry : hijack::backend::BackendTable()) {
    auto works = entry.probe();
    if (works && !automatic) {
      automatic = entry.name();
    }
    const std::string row =
        fmt::format("  {:<26} {:<3} {}", entry.name(), works ? "on" : "off",
                    works ? std::string(entry.description) : works.error().message);
    std::printf("%s\n", hijack::common::FitLine(row, width, kDetailColumn).c_str());
  }
  std::printf("  %-26s picks %s\n", std::string(hijack::backend::BackendChoice::kAutoName).c_str(),
              automatic ? std::string(*automatic).c_str() : "none (no backend runs here)");
}

// `hijackd check POLICY -- PROGRAM`: a warning for each file the program needs to start that an
// allow list of the policy omits (run/start_check.h), with the pattern to add. False when the
// program cannot be found (said).
bool WarnStartOmissions(const hijack::policy::PolicySet& policy,
                        const std::vector<std::string>& program) {
  const char* path = getenv("PATH");
  auto files = hijack::run::StartFilesOf(program, path != nullptr ? path : "/usr/bin:/bin");
  if (!files) {
    spdlog::error("{}", files.error().message);
    return false;
  }
  for (const auto& o : hijack::modules::PolicyOmissions(policy, *files)) {
    spdlog::warn("/modules/{} ({}) denies {} \"{}\": {}; {}", o.module_index, o.module,
                 o.file.what, o.file.path, o.reason.rule, o.reason.hint);
  }
  return true;
}

// What `hijackd man` and `hijackd completion` add to the command line's own words: the backend
// names --backend takes (the check function cannot list them), the policy page, exit statuses.
hijack::common::CliDocs ManualDocs() {
  std::vector<std::string> backends{std::string(hijack::backend::BackendChoice::kAutoName)};
  for (const hijack::backend::BackendEntry& entry : hijack::backend::BackendTable()) {
    backends.emplace_back(entry.name());
  }
  return {
      .section = 8,
      .manual = "System Administration",
      .see_also = {"hijackctl(1)", "hijack-policy(5)", "seccomp_unotify(2)", "ptrace(2)",
                   "landlock(7)"},
      .choices = {{"--backend", std::move(backends)}},
      .sections = {{"EXIT STATUS",
                    "\\fBhijackd run\\fR exits with the guest's status; a guest killed by a "
                    "signal kills hijackd with the same signal after its cleanup.\n.PP\n"
                    "Its own statuses: 2 for a bad command line or policy (nothing is started), "
                    "127 and 126 for a command that cannot be executed, 1 when the supervisor "
                    "cannot start.\n"}},
      .pages = {{"policy",
                 [] { return hijack::policy::PolicyManualPage(hijack::modules::BuiltInModules()); }}},
  };
}

// --log-level given before the command word (`hijackd --log-level debug strace ...`), if any.
std::optional<std::string> LogLevelBefore(const std::vector<std::string>& args, size_t at) {
  std::optional<std::string> level;
  for (size_t i = 0; i + 1 < at; ++i) {
    if (args[i] == "--log-level") {
      level = args[i + 1];
    }
  }
  return level;
}

// `hijackd strace ...`: strace's command line onto `hijackd run` (run/strace_options.h).
int RunStrace(std::span<const std::string> words, std::optional<std::string> log_level) {
  auto parsed = hijack::run::ParseStraceOptions(words);
  if (!parsed) {
    std::fprintf(stderr, "hijackd strace: %s\n", parsed.error().message.c_str());
    return 2;
  }
  if (parsed->help) {
    std::fputs(hijack::run::StraceUsage().c_str(), stdout);
    return 0;
  }
  auto backend = hijack::backend::ParseBackendChoice(parsed->backend);
  if (!backend) {
    std::fprintf(stderr, "hijackd strace: --backend: %s\n", backend.error().message.c_str());
    return 2;
  }
  const std::string level = parsed->log_level.value_or(log_level.value_or("warn"));
  if (spdlog::level::from_str(level) == spdlog::level::off && level != "off") {
    std::fprintf(stderr, "hijackd strace: --log-level %s: trace, debug, info, warn, error, off\n",
                 level.c_str());
    return 2;
  }
  SetUpLogging(level);
  hijack::run::RunOptions run;
  run.command = parsed->command;
  run.policy_file = parsed->policy;
  run.backend = *backend;
  run.agent = parsed->agent;
  run.quiet = true;
  run.strace = std::move(*parsed);
  return hijack::run::RunGuest(run);
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
  CLI::App app{"hijackd: take control of unmodified Linux programs from user space", "hijackd"};
  app.require_subcommand(1);
  app.set_version_flag("--version", VersionText, "print the version and what this host offers");
  // --log-level is taken before and after the command name (`hijackd run --log-level debug`).
  std::string log_level = "info";
  std::vector<CLI::Option*> log_level_opts;
  auto add_log_level = [&](CLI::App* to) {
    log_level_opts.push_back(
        to->add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
            ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"})));
  };
  add_log_level(&app);

  hijack::run::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "run one guest in the foreground");
  run_cmd->footer(
      "The command starts at the first word that is not an option of run; use -- before it when "
      "it starts with a dash.\n"
      "Examples:\n"
      "  hijackd run ls /                         # every syscall counted, table at the end\n"
      "  hijackd run --policy policies/deny.json -- cat /etc/hostname\n"
      "  hijackd run --trace - --intercept %file -- make -j2\n"
      "  hijackd run --listen unix:/tmp/h.sock -- lighttpd -D -f l.conf   # re-police it live");
  add_log_level(run_cmd);
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
  CLI::Option* trace_opt =
      run_cmd->add_option("--trace", run.trace_file, "trace calls to FILE ('-' for stderr)");
  run_cmd->add_option("--trace-format", run.trace_format, "text or json (needs --trace)")
      ->check(CLI::IsMember({"text", "json"}))
      ->needs(trace_opt);
  run_cmd->add_flag("--quiet", run.quiet,
                    "no report at the end and no informational lines (warnings and errors stay; "
                    "--log-level overrides)");
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
  bool no_kernel_observer = false;
  run_cmd->add_flag("--no-kernel-observer", no_kernel_observer,
                    "do not load the BPF program that reports the results of calls the notify "
                    "backend lets run (they are then unknown, and the log says so once)");
  bool no_landlock = false;
  run_cmd->add_flag("--no-landlock", no_landlock,
                    "do not install the Landlock ruleset compiled from the policy's fs_guard, "
                    "exec_guard and net_guard rules; the modules alone enforce them");
  run_cmd
      ->add_option("--landlock-abi", run.landlock_abi_max,
                   "use at most this Landlock ABI (to see what an older kernel would hold)")
      ->check(CLI::Range(0, 64));
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
  run_cmd->add_option("command", run.command, "the program and its arguments")->required();

  hijack::control::ServeOptions serve;
  serve.server.listen = hijack::common::DefaultControlAddress();
  hijack::control::ControlCliState serve_control_cli;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "run as a daemon: launch and steer guests over the control API (hijackctl)");
  serve_cmd->footer(
      "Examples:\n"
      "  hijackd serve                            # the API on the default unix socket (0600)\n"
      "  hijackd serve --listen tcp:127.0.0.1:7070 --token-file ~/.hijack-token\n"
      "  hijackd serve --listen tcp:0.0.0.0:7070 --listen-any --tls-cert s.pem --tls-key s.key "
      "--tls-ca clients-ca.pem");
  serve_cmd->add_option("--listen", serve.server.listen, "unix:PATH or tcp:HOST:PORT")
      ->capture_default_str();
  add_log_level(serve_cmd);
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
  serve_cmd->add_flag("--no-landlock", no_landlock,
                      "install no Landlock floor for any guest; the modules alone enforce "
                      "fs_guard, exec_guard and net_guard rules");
  serve_cmd->add_flag("--no-sync-wakeup", no_sync,
                      "do not ask for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (for measurements)");
  serve_cmd->add_option("--oci-listener", serve.oci_listener,
                        "also be the seccomp agent of OCI runtimes on this unix socket: a "
                        "container whose profile names it in listenerPath becomes a guest");
  serve_cmd->add_option("--oci-listener-mode", serve.oci_listener_mode,
                        "mode of the OCI socket, octal (root, the daemon's uid and "
                        "--oci-listener-group may connect)")
      ->capture_default_str();
  serve_cmd->add_option("--oci-listener-group", serve.oci_listener_group,
                        "group of the OCI socket (with --oci-listener-mode 0660)");
  serve_cmd->add_option("--oci-policy-dir", serve.oci_policy_dir,
                        "the policies a container's listenerMetadata may name: NAME is "
                        "DIR/NAME.json");
  serve_cmd->add_option("--oci-default-policy", serve.oci_default_policy,
                        "policy of containers whose listenerMetadata is empty (default: stats "
                        "over the calls their profile sends)");

  std::string check_file;
  std::vector<std::string> check_program;
  CLI::App* check_cmd = app.add_subcommand("check", "validate a policy file");
  check_cmd->footer(
      "Examples:\n  hijackd check policies/fs-readonly.json\n"
      "  hijackd check web.json -- lighttpd -D   # also: does it let lighttpd start?");
  check_cmd->add_option("file", check_file, "policy JSON file")->required();
  check_cmd->add_option("program", check_program,
                        "the program the policy is for: warn when fs_guard or exec_guard would "
                        "deny it, the libraries it loads or hijackd's agent");
  add_log_level(check_cmd);

  CLI::App* modules_cmd = app.add_subcommand("modules", "list the built-in policy modules");
  // Parsed by run/strace_options.h, not CLI11: strace's grouped short options (-ff, -tt, -s64)
  // are getopt's. Listed here for --help and the manual.
  CLI::App* strace_cmd = app.add_subcommand(
      "strace", "run one guest traced with strace(1)'s options and output (hijackd strace -h)");
  strace_cmd->footer(hijack::run::StraceUsage());
  strace_cmd->allow_extras();

  app.add_subcommand("schema", "print the JSON Schema (draft 2020-12) of policy files")
      ->callback([] {
        std::printf("%s\n",
                    hijack::policy::PolicySchema(hijack::modules::BuiltInModules()).dump(2).c_str());
        throw CLI::Success();
      });
  hijack::common::AddDocCommands(app, ManualDocs());
  app.footer(
      "Examples:\n"
      "  hijackd run ls /                         # every syscall counted, table at the end\n"
      "  hijackd serve                            # the API on the default unix socket (0600)\n"
      "  hijackd check my-policy.json\n"
      "`hijackd COMMAND --help` shows each command's options and examples.");

  std::vector<std::string> args(argv + 1, argv + argc);
  if (const size_t at = CommandIndex(args); at < args.size() && args[at] == "strace") {
    return RunStrace(std::span(args).subspan(at + 1), LogLevelBefore(args, at));
  }
  if (auto unknown = UnknownCommand(app, args)) {
    std::fprintf(stderr, "hijackd: unknown command \"%s\" (commands: %s; see hijackd --help)\n",
                 unknown->c_str(), CommandNames(app).c_str());
    return 2;
  }
  args = WithCommandMark(*run_cmd, std::move(args));
  try {
    // CLI11 wants the arguments in reverse order when given as a vector.
    std::reverse(args.begin(), args.end());
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (run_cmd->parsed() && run.quiet &&
      std::ranges::none_of(log_level_opts, [](CLI::Option* o) { return o->count() > 0; })) {
    log_level = "warn";
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
    run.landlock_floor = !no_landlock;
    run.kernel_observer = !no_kernel_observer;
    if (run_listen) {
      // Loaded only here and for serve (control_plane.h): a run without --listen maps no gRPC.
      auto plane = hijack::control::LoadControlPlane();
      if (!plane) {
        spdlog::error("{}", plane.error().message);
        return 1;
      }
      hijack::control::ControlServerOptions control = run_control;
      control.listen = *run_listen;
      run.serve_control = [control, plane = *plane](hijack::supervisor::Supervisor& sup) {
        return plane->serve_run_control(control, sup);
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
    serve.landlock_floor = !no_landlock;
    auto plane = hijack::control::LoadControlPlane();
    if (!plane) {
      spdlog::error("{}", plane.error().message);
      return 1;
    }
    return (*plane)->run_serve(serve);
  }
  const auto& registry = hijack::modules::BuiltInModules();
  if (check_cmd->parsed()) {
    // The document's shape first, every violation at once (policy_schema.h); then the modules.
    if (auto violations = hijack::policy::CheckPolicyFile(check_file, registry);
        !violations.empty()) {
      for (const auto& v : violations) {
        spdlog::error("{}: {}: {}", check_file, v.path, v.message);
      }
      return 2;
    }
    auto set = hijack::policy::PolicySet::FromFile(check_file, registry);
    if (!set) {
      spdlog::error("{}", set.error().message);
      return 2;
    }
    const size_t modules = (*set)->modules().size();
    const size_t needed = (*set)->needed().size();
    const size_t width = hijack::common::OutputWidth(STDOUT_FILENO);
    std::printf("%s\n", hijack::common::FitLine(
                            fmt::format("{}: valid, {} module{}, intercepts {} syscall{}",
                                        check_file, modules, modules == 1 ? "" : "s", needed,
                                        needed == 1 ? "" : "s"),
                            width, 2)
                            .c_str());
    // What a module cannot promise as configured (its Stats() "caveat"): said before it runs.
    for (size_t i = 0; i < (*set)->modules().size(); ++i) {
      const nlohmann::json stats = (*set)->modules()[i]->Stats();
      if (stats.contains("caveat") && stats["caveat"].is_string()) {
        spdlog::warn("/modules/{} ({}): {}", i, (*set)->modules()[i]->Name(),
                     stats["caveat"].get<std::string>());
      }
    }
    if (!check_program.empty() && !WarnStartOmissions(**set, check_program)) {
      return 2;
    }
    // What a guest launched by this hijackd, on this kernel, would be protected by.
    auto layers = hijack::supervisor::ProbeProtection({});
    // The program is not known here: the floors are shown without its start files.
    hijack::supervisor::AddKernelFloors(layers, **set, "", "");
    std::printf("protection on this kernel:\n");
    for (const auto& layer : layers.Describe()) {
      const std::string row =
          layer.name == "kernel-enforced" || layer.name == "module-only"
              ? fmt::format("  {:<30} {}", layer.name + ":", layer.detail)
              : fmt::format("  {:<26} {:<3} {}", layer.name, layer.active ? "on" : "off",
                            layer.detail);
      std::printf("%s\n", hijack::common::FitLine(row, width, kDetailColumn).c_str());
    }
    if (!layers.landlock_scope) {
      spdlog::warn("no Landlock scoping on this kernel: the supervisor refuses cross-tree calls "
                   "itself (docs/SECURITY.md)");
    }
    PrintBackends(width);
    return 0;
  }
  if (modules_cmd->parsed()) {
    for (const auto* info : registry.List()) {
      std::printf("%-10s %s\n", info->name.c_str(), info->summary.c_str());
      for (const auto& s : info->settings) {
        std::printf("  %-10s %s\n", s.name.c_str(), hijack::policy::DescribeSetting(s).c_str());
      }
    }
    return 0;
  }
  return 2;
}
