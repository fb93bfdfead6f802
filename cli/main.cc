// hijackctl: launch, watch and re-police Hijack guests through hijackd's control API.
//
//   hijackctl [--connect ADDR] [--json] launch|guests|show|kill|policy get|policy set|
//             policy check|modules|stats|events [--follow]|logs [--follow]|whoami|health
//   hijackctl --version
//
// ADDR is unix:PATH or tcp:HOST:PORT; default $HIJACK_CONNECT, else hijackd's default socket.
// A TCP listener wants credentials: --tls-ca/--tls-cert/--tls-key (mutual TLS; $HIJACK_TLS_CA,
// $HIJACK_TLS_CERT, $HIJACK_TLS_KEY) and/or --token-file ($HIJACK_TOKEN_FILE), whose bearer
// token goes with every call. `hijackctl whoami` says who the daemon takes the caller for.
// Exit status: 0 on success, the gRPC status code of a failed call (3 INVALID_ARGUMENT,
// 5 NOT_FOUND, 9 FAILED_PRECONDITION, 10 ABORTED, 14 UNAVAILABLE, ...), 64 for a usage error.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <nlohmann/json.hpp>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli/text_table.h"
#include "common/bounded_file.h"
#include "common/exit_description.h"
#include "common/cli_docs.h"
#include "common/listen_address.h"
#include "common/stats_table.h"
#include "common/version.h"
#include "hijack/backend_kind.h"
#include "hijack/v1/control.grpc.pb.h"

extern char** environ;

namespace hijack::cli {
namespace {

constexpr int kUsageError = 64;  // EX_USAGE: gRPC codes take 1..16

struct Globals {
  std::string connect;
  bool json = false;
  double timeout_s = 30;
  std::string tls_ca, tls_cert, tls_key, tls_server_name;
  std::string token_file;
};

// The value of an environment variable, or "" when unset.
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

// Prints a failed call and returns its exit status (the gRPC code).
int Fail(const grpc::Status& status, const std::string& address, bool tls) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    if (tls) {
      // Under TLS 1.3 the server judges the client's certificate after the client thinks the
      // handshake is done, so a refusal arrives as a closed socket, not as a TLS alert.
      message += " (is hijackd serving " + address + "? if so, the TLS handshake failed: "
                 "hijackd admits only client certificates its --tls-ca signed and that are "
                 "valid now, and this client must trust the CA of hijackd's; see --tls-cert, "
                 "--tls-key, --tls-ca)";
    } else {
      message += " (is hijackd serving " + address + "? see --connect, HIJACK_CONNECT)";
    }
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    message += " (see --token-file, HIJACK_TOKEN_FILE, --tls-cert)";
  }
  std::fprintf(stderr, "hijackctl: %s: %s\n", CodeName(status.error_code()), message.c_str());
  return static_cast<int>(status.error_code());
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void PrintJson(const google::protobuf::Message& message) {
  std::printf("%s\n", ToJson(message).c_str());
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& parts,
                 const char* sep = " ") {
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : sep) + p;
  }
  return out;
}

// A policy file, or standard input for "-", up to the daemon's limit on policies: a file that
// is larger (or /dev/zero, a FIFO, a directory) is refused here rather than sent.
std::optional<std::string> ReadText(const std::string& path) {
  if (path == "-") {
    std::string text(hijack::common::kMaxPolicyBytes + 1, '\0');
    std::cin.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(std::cin.gcount()));
    if (text.size() > hijack::common::kMaxPolicyBytes) {
      std::fprintf(stderr, "hijackctl: standard input: more than the limit of %zu bytes\n",
                   hijack::common::kMaxPolicyBytes);
      return std::nullopt;
    }
    return text;
  }
  auto text = hijack::common::ReadBoundedFile(path, hijack::common::kMaxPolicyBytes);
  if (!text) {
    std::fprintf(stderr, "hijackctl: %s\n", text.error().message.c_str());
    return std::nullopt;
  }
  return *text;
}

// "TERM", "SIGTERM", "15" -> 15; 0 when unknown.
int ParseSignal(const std::string& text) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
    return std::atoi(text.c_str());
  }
  std::string name = text.starts_with("SIG") ? text.substr(3) : text;
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) {
      return sig;
    }
  }
  return 0;
}

std::string Age(int64_t from_ms, int64_t to_ms) {
  if (from_ms == 0) {
    return "-";
  }
  if (to_ms == 0) {
    to_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  }
  int64_t s = (to_ms - from_ms) / 1000;
  char buf[32];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 7200) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(s / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(s / 3600));
  }
  return buf;
}

// "running", or how it ended as a shell says it ("exited with status 0", "killed by SIGTERM").
std::string StateOf(const v1::Guest& g) {
  if (g.state() == v1::Guest::RUNNING) {
    return "running";
  }
  // A daemon older than exit_description sent the raw status alone.
  return g.exit_description().empty() ? common::DescribeWaitStatus(g.wait_status())
                                      : g.exit_description();
}

// This process's working directory, sent with every policy: the daemon resolves the policy's
// relative file names against it. Empty when it cannot be read (the daemon then refuses
// relative names and says so).
std::string ClientDirectory() {
  char cwd[4096];
  return getcwd(cwd, sizeof cwd) != nullptr ? cwd : "";
}

// The words a user types and reads for decisions (Decision::Kind's KindName on the daemon side).
const std::map<std::string, v1::DecisionKind>& DecisionWords() {
  static const std::map<std::string, v1::DecisionKind> words = {
      {"continue", v1::DECISION_KIND_CONTINUE},
      {"fail", v1::DECISION_KIND_FAIL},
      {"return", v1::DECISION_KIND_RETURN},
      {"inject_fd", v1::DECISION_KIND_INJECT_FD},
  };
  return words;
}

std::string DecisionWord(v1::DecisionKind kind) {
  for (const auto& [word, k] : DecisionWords()) {
    if (k == kind) {
      return word;
    }
  }
  return v1::DecisionKind_Name(kind);  // a kind newer than this client: its proto name
}

std::string EventLine(const v1::SyscallEventMessage& e) {
  std::string args;
  if (e.args_size() > 0) {
    args = Join(e.args(), ", ");
  } else {
    char buf[32];
    for (int i = 0; i < std::min(3, e.raw_args_size()); ++i) {
      std::snprintf(buf, sizeof buf, "%s0x%llx", i == 0 ? "" : ", ",
                    static_cast<unsigned long long>(e.raw_args(i)));
      args += buf;
    }
    args += ", ...";
  }
  std::string line = "guest " + std::to_string(e.guest_id()) + " [" + std::to_string(e.tid()) +
                     "] " + e.syscall() + "(" + args + ")";
  if (e.decision() == v1::DECISION_KIND_FAIL) {
    line += " = -1 " + e.errno_name();
  } else if (e.decision() == v1::DECISION_KIND_RETURN) {
    line += " = " + std::to_string(e.return_value());
  } else if (e.has_result()) {
    line += " = " + std::to_string(e.result());
  }
  line += "  <" + DecisionWord(e.decision());
  if (!e.module().empty()) {
    line += " by " + e.module();
  }
  line += ", policy v" + std::to_string(e.policy_version()) + ", " +
          std::to_string(e.latency_ns() / 1000) + "us>";
  // A denial in the policy's terms, as hijackd run's log says it (daemon/supervisor/
  // denial_text.h): the object the rule judged, the rule, and what to change, or that the kernel
  // would have failed the call anyway.
  if (!e.denied_path().empty()) {
    line += " on " + e.denied_path();
  }
  if (!e.rule().empty()) {
    line += ": " + e.rule();
  }
  if (!e.would_fail().empty()) {
    line += " (the call would have failed with " + e.would_fail() + " anyway)";
  } else if (!e.hint().empty()) {
    line += "; " + e.hint();
  }
  return line;
}

class Client {
 public:
  explicit Client(const Globals& globals) : globals_(globals) {}

  // Returns false (after printing why) when the address does not parse.
  bool Connect() {
    auto address = common::ParseListenAddress(globals_.connect);
    if (!address) {
      std::fprintf(stderr, "hijackctl: --connect: %s\n", address.error().message.c_str());
      return false;
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 << 20);
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    const bool tls = !globals_.tls_ca.empty() || !globals_.tls_cert.empty() ||
                     !globals_.tls_key.empty();
    tls_ = tls;
    if (tls) {
      if (address->kind != common::ListenAddress::Kind::kTcp) {
        std::fprintf(stderr, "hijackctl: --tls-* apply to tcp: addresses\n");
        return false;
      }
      if (globals_.tls_ca.empty() || globals_.tls_cert.empty() != globals_.tls_key.empty()) {
        std::fprintf(stderr, "hijackctl: TLS needs --tls-ca (the CA of hijackd's certificate), "
                             "and --tls-cert with --tls-key for this client's certificate\n");
        return false;
      }
      grpc::SslCredentialsOptions ssl;
      for (auto [path, out] : {std::pair{&globals_.tls_ca, &ssl.pem_root_certs},
                               std::pair{&globals_.tls_cert, &ssl.pem_cert_chain},
                               std::pair{&globals_.tls_key, &ssl.pem_private_key}}) {
        if (path->empty()) {
          continue;  // no client certificate: hijackd's handshake will say no
        }
        auto text = ReadText(*path);
        if (!text) {
          return false;
        }
        *out = std::move(*text);
      }
      credentials = grpc::SslCredentials(ssl);
      if (!globals_.tls_server_name.empty()) {
        args.SetSslTargetNameOverride(globals_.tls_server_name);
      }
    }
    if (!globals_.token_file.empty()) {
      if (!tls && !address->IsLoopback()) {
        std::fprintf(stderr, "hijackctl: --token-file: not sending a token in clear to %s (use "
                             "mutual TLS off this machine)\n",
                     globals_.connect.c_str());
        return false;
      }
      auto text = ReadText(globals_.token_file);
      if (!text) {
        return false;
      }
      while (!text->empty() && std::isspace(static_cast<unsigned char>(text->back()))) {
        text->pop_back();
      }
      token_ = std::move(*text);
    }
    stub_ = v1::Control::NewStub(
        grpc::CreateCustomChannel(address->GrpcUri(), credentials, args));
    return true;
  }

  std::unique_ptr<grpc::ClientContext> Context(bool deadline = true) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (deadline && globals_.timeout_s > 0) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(globals_.timeout_s * 1000)));
    }
    if (!token_.empty()) {
      ctx->AddMetadata("authorization", "Bearer " + token_);
    }
    return ctx;
  }

  v1::Control::Stub& stub() { return *stub_; }
  const Globals& globals() const { return globals_; }
  int Fail(const grpc::Status& s) const { return cli::Fail(s, globals_.connect, tls_); }

  // One unary call of the API. Returns the exit status when the command is done: the failure's
  // (Fail), or 0 after printing the response under --json. nullopt: the call succeeded and the
  // caller prints the response as text.
  //   if (auto done = c.Call(&v1::Control::Stub::GetGuest, req, g)) return *done;
  template <typename Request, typename Response>
  std::optional<int> Call(grpc::Status (v1::Control::Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                          const Request& request, Response& response) {
    auto ctx = Context();
    if (grpc::Status s = (stub().*method)(ctx.get(), request, &response); !s.ok()) {
      return Fail(s);
    }
    if (globals().json) {
      PrintJson(response);
      return 0;
    }
    return std::nullopt;
  }

 private:
  const Globals& globals_;
  bool tls_ = false;
  std::string token_;
  std::unique_ptr<v1::Control::Stub> stub_;
};

// ---- Commands. Each returns hijackctl's exit status. ----

struct LaunchArgs {
  std::optional<std::string> policy_file;
  std::string backend;  // empty: the daemon's auto
  std::vector<std::string> intercept;
  std::optional<std::string> cwd;
  bool agent = true;
  bool allow_io_uring = false;
  bool no_landlock = false;
  std::vector<std::string> command;
};

int Launch(Client& c, const LaunchArgs& a) {
  v1::LaunchRequest req;
  for (const auto& arg : a.command) {
    req.add_argv(arg);
  }
  for (char** e = environ; *e != nullptr; ++e) {
    req.add_env(*e);
  }
  if (a.cwd) {
    req.set_cwd(*a.cwd);
  } else if (char cwd[4096]; getcwd(cwd, sizeof cwd) != nullptr) {
    req.set_cwd(cwd);
  }
  if (a.policy_file) {
    auto text = ReadText(*a.policy_file);
    if (!text) {
      return kUsageError;
    }
    req.set_policy(*text);
  }
  req.set_client_cwd(ClientDirectory());
  req.set_backend(a.backend);
  req.set_no_agent(!a.agent);
  req.set_allow_io_uring(a.allow_io_uring);
  req.set_no_landlock(a.no_landlock);
  for (const auto& i : a.intercept) {
    req.add_intercept(i);
  }
  v1::LaunchResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::Launch, req, resp)) {
    return *done;
  }
  std::printf("guest %llu: pid %d, backend %s\n",
              static_cast<unsigned long long>(resp.guest_id()), resp.pid(),
              resp.backend().c_str());
  return 0;
}

int Guests(Client& c, bool with_intercept) {
  v1::ListGuestsRequest req;
  req.set_with_intercept(with_intercept);
  v1::ListGuestsResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::ListGuests, req, resp)) {
    return *done;
  }
  TextTable t({"ID", "STATE", "PID", "BACKEND", "POLICY", "AGE", "COMMAND"});
  for (const auto& g : resp.guests()) {
    t.AddRow({std::to_string(g.guest_id()), StateOf(g), std::to_string(g.pid()), g.backend(),
              "v" + std::to_string(g.policy_version()),
              Age(g.started_unix_ms(), g.exited_unix_ms()), Join(g.argv())});
  }
  std::fputs(t.Render().c_str(), stdout);
  return 0;
}

int Show(Client& c, uint64_t id) {
  v1::GetGuestRequest req;
  req.set_guest_id(id);
  v1::Guest g;
  if (auto done = c.Call(&v1::Control::Stub::GetGuest, req, g)) {
    return *done;
  }
  std::printf("guest:          %llu\n", static_cast<unsigned long long>(g.guest_id()));
  std::printf("state:          %s\n", StateOf(g).c_str());
  std::printf("pid:            %d\n", g.pid());
  std::printf("command:        %s\n", Join(g.argv()).c_str());
  std::printf("backend:        %s\n", g.backend().c_str());
  const std::string containment =
      g.containment() == "none" ? "none (descendants may outlive a killed hijackd)"
                                : g.containment() + " (the guest tree ends with hijackd)";
  std::printf("containment:    %s\n", containment.c_str());
  std::printf("policy version: %llu\n", static_cast<unsigned long long>(g.policy_version()));
  if (g.state() == v1::Guest::RUNNING) {
    std::printf("running for:    %s\n", Age(g.started_unix_ms(), 0).c_str());
  } else {
    char when[64] = "-";
    if (g.exited_unix_ms() > 0) {
      const time_t t = static_cast<time_t>(g.exited_unix_ms() / 1000);
      tm local{};
      localtime_r(&t, &local);
      std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &local);
    }
    std::printf("ran for:        %s, %s at %s\n",
                Age(g.started_unix_ms(), g.exited_unix_ms()).c_str(), StateOf(g).c_str(), when);
  }
  std::printf("events dropped: %llu\n", static_cast<unsigned long long>(g.events_dropped()));
  std::printf("launched by:    %s\n", g.launched_by().c_str());
  std::string groups;
  for (uint32_t gid : g.runs_as().groups()) {
    groups += (groups.empty() ? "" : ",") + std::to_string(gid);
  }
  std::printf("runs as:        uid %u%s, gid %u, groups %s\n", g.runs_as().uid(),
              g.runs_as().user().empty() ? "" : (" (" + g.runs_as().user() + ")").c_str(),
              g.runs_as().gid(), groups.empty() ? "none" : groups.c_str());
  std::printf("intercepts:     %d syscalls: %s\n", g.intercept_size(),
              Join(g.intercept(), ",").c_str());
  if (g.agent_syscalls_size() > 0) {
    std::printf("agent:          %d syscalls observed in the guest: %s\n",
                g.agent_syscalls_size(), Join(g.agent_syscalls(), ",").c_str());
  } else {
    std::printf("agent:          off\n");
  }
  for (const auto& layer : g.protection()) {
    if (layer.name() == "kernel-enforced" || layer.name() == "module-only") {
      // One rule of a confining module, and which layer holds it (the kernel's Landlock floor
      // and the module, or the module alone).
      std::printf("%-15s %s\n", (layer.name() + ":").c_str(), layer.detail().c_str());
      continue;
    }
    std::printf("protection:     %-26s %-3s %s\n", layer.name().c_str(),
                layer.active() ? "on" : "off", layer.detail().c_str());
  }
  return 0;
}

int Kill(Client& c, uint64_t id, const std::string& signal_text) {
  int sig = ParseSignal(signal_text);
  if (sig <= 0) {
    std::fprintf(stderr, "hijackctl: --signal %s: unknown signal\n", signal_text.c_str());
    return kUsageError;
  }
  v1::KillRequest req;
  req.set_guest_id(id);
  req.set_signal(sig);
  v1::KillResponse resp;
  auto ctx = c.Context();
  if (auto s = c.stub().Kill(ctx.get(), req, &resp); !s.ok()) {
    return c.Fail(s);
  }
  if (!c.globals().json) {
    std::printf("guest %llu: sent SIG%s\n", static_cast<unsigned long long>(id),
                sigabbrev_np(sig));
  } else {
    std::printf("{}\n");
  }
  return 0;
}

int PolicyGet(Client& c, uint64_t id) {
  v1::GetPolicyRequest req;
  req.set_guest_id(id);
  v1::Policy resp;
  if (auto done = c.Call(&v1::Control::Stub::GetPolicy, req, resp)) {
    return *done;
  }
  // The document alone on stdout, so it can be saved, edited and set again.
  std::fprintf(stderr, "guest %llu: policy version %llu\n", static_cast<unsigned long long>(id),
               static_cast<unsigned long long>(resp.version()));
  std::printf("%s\n", resp.document().c_str());
  return 0;
}

int PolicySet(Client& c, uint64_t id, const std::string& file,
              std::optional<uint64_t> expected_version) {
  auto text = ReadText(file);
  if (!text) {
    return kUsageError;
  }
  v1::SetPolicyRequest req;
  req.set_guest_id(id);
  req.set_document(*text);
  req.set_client_cwd(ClientDirectory());
  if (expected_version) {
    req.set_expected_version(*expected_version);
  }
  v1::SetPolicyResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::SetPolicy, req, resp)) {
    return *done;
  }
  std::printf("guest %llu: policy version %llu\n", static_cast<unsigned long long>(id),
              static_cast<unsigned long long>(resp.version()));
  return 0;
}

int PolicyCheck(Client& c, const std::string& file, uint64_t guest) {
  auto text = ReadText(file);
  if (!text) {
    return kUsageError;
  }
  v1::ValidatePolicyRequest req;
  req.set_document(*text);
  req.set_guest_id(guest);
  req.set_client_cwd(ClientDirectory());
  v1::ValidatePolicyResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::ValidatePolicy, req, resp)) {
    return *done;
  }
  std::printf("%s: valid; modules: %s; needs %d syscalls\n", file.c_str(),
              Join(resp.modules(), ", ").c_str(), resp.needs_size());
  return 0;
}

int Modules(Client& c) {
  v1::ListModulesResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::ListModules, v1::ListModulesRequest{}, resp)) {
    return *done;
  }
  for (const auto& m : resp.modules()) {
    std::printf("%-10s %s\n", m.name().c_str(), m.summary().c_str());
    std::map<std::string, std::string> sorted(m.settings().begin(), m.settings().end());
    for (const auto& [key, meaning] : sorted) {
      std::printf("  %-12s %s\n", key.c_str(), meaning.c_str());
    }
    // Long lists (stats and trace default to every syscall) are counted; --json has them all.
    std::string calls =
        m.syscalls_from_settings() ? "set by its settings (it has no default instance)"
        : m.syscalls_size() > 12   ? std::to_string(m.syscalls_size()) + " syscalls by default"
                                   : Join(m.syscalls(), ", ");
    std::printf("  %-12s %s\n", "intercepts", calls.c_str());
  }
  return 0;
}

int Stats(Client& c, uint64_t id) {
  v1::GetStatsRequest req;
  req.set_guest_id(id);
  v1::GetStatsResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::GetStats, req, resp)) {
    return *done;
  }
  // The table `hijackd run` prints when its guest ends (common/stats_table.h).
  std::vector<common::StatsRow> rows;
  for (const v1::SyscallStats& r : resp.syscalls()) {
    rows.push_back({.syscall = r.syscall(),
                    .calls = r.calls(),
                    .errors = r.errors(),
                    .not_run = r.not_run(),
                    .unknown_results = r.unknown_results(),
                    .total_ns = r.total_ns(),
                    .p50_ns = r.p50_ns(),
                    .p99_ns = r.p99_ns()});
  }
  std::printf("guest %llu, policy version %llu, %llu events dropped by observers\n",
              static_cast<unsigned long long>(id),
              static_cast<unsigned long long>(resp.policy_version()),
              static_cast<unsigned long long>(resp.events_dropped()));
  if (!rows.empty()) {
    std::fputs(common::FormatStatsTable(std::move(rows), resp.latency()).c_str(), stdout);
  }
  for (const auto& m : resp.modules()) {
    if (m.module() != "stats") {
      // Compact and with sorted keys, as the module writes its counters.
      std::string counters = "{}";
      if (m.has_counters()) {
        std::string json;
        (void)google::protobuf::util::MessageToJsonString(m.counters(), &json);
        counters = nlohmann::json::parse(json, nullptr, false).dump();
      }
      std::printf("module %d %s: %s\n", m.index(), m.module().c_str(), counters.c_str());
    }
  }
  return 0;
}

struct EventsArgs {
  uint64_t guest = 0;
  std::vector<std::string> syscalls;
  std::vector<v1::DecisionKind> decisions;
  bool follow = false;
  uint64_t count = 20;
  uint32_t queue = 0;
  bool audit = false;
};

// `hijackctl health`: is the daemon serving, which build is it, and what does its host offer.
int Health(Client& c) {
  v1::HealthResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::Health, v1::HealthRequest{}, resp)) {
    return *done;
  }
  std::printf("status:   %s\n", resp.status() == v1::HealthResponse::SERVING ? "serving"
                                                                         : "shutting down");
  std::printf("version:  hijackd %s (git %s), pid %d, up %.1f s\n", resp.version().c_str(),
              resp.git_revision().c_str(), resp.pid(),
              static_cast<double>(resp.uptime_ms()) / 1000.0);
  std::printf("guests:   %u running, %u in all\n", resp.guests_running(), resp.guests_total());
  std::printf("caller:   %s (%s)\n", resp.caller().c_str(), resp.role().c_str());
  std::printf("host:\n");
  for (const auto& f : resp.features()) {
    std::printf("  %-20s %s\n", f.name().c_str(), f.detail().c_str());
  }
  return 0;
}

int Whoami(Client& c) {
  v1::HealthResponse resp;
  if (auto done = c.Call(&v1::Control::Stub::Health, v1::HealthRequest{}, resp)) {
    return *done;
  }
  std::printf("%s: %s\n", resp.caller().c_str(), resp.role().c_str());
  return 0;
}

int Events(Client& c, const EventsArgs& a) {
  v1::WatchEventsRequest req;
  req.set_guest_id(a.guest);
  for (const auto& s : a.syscalls) {
    req.add_syscalls(s);
  }
  for (const auto& d : a.decisions) {
    req.add_decisions(d);
  }
  req.set_queue(a.queue);
  req.set_audit(a.audit);
  auto ctx = c.Context(/*deadline=*/false);
  auto reader = c.stub().WatchEvents(ctx.get(), req);
  v1::WatchEventsResponse msg;
  uint64_t seen = 0;
  while ((a.follow || seen < a.count) && reader->Read(&msg)) {
    ++seen;
    if (c.globals().json) {
      // Programs get the arguments as JSON values (arg_values); the strace-style text of each,
      // quotes escaped inside strings, is for people.
      if (msg.event().arg_values_size() == msg.event().args_size()) {
        msg.mutable_event()->clear_args();
      }
      std::printf("%s\n", ToJson(msg).c_str());
    } else if (msg.has_audit()) {
      const auto& r = msg.audit();
      std::printf("audit: %s %s guest %llu (%s): %s\n", r.caller().c_str(), r.rpc().c_str(),
                  static_cast<unsigned long long>(r.guest_id()), r.what().c_str(),
                  r.result().c_str());
    } else {
      if (msg.dropped_before() > 0) {
        std::printf("... %llu events dropped (this reader was too slow) ...\n",
                    static_cast<unsigned long long>(msg.dropped_before()));
      }
      std::printf("%s\n", EventLine(msg.event()).c_str());
    }
    std::fflush(stdout);
  }
  if (!a.follow && seen >= a.count) {
    ctx->TryCancel();
  }
  grpc::Status s = reader->Finish();
  if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
    return c.Fail(s);
  }
  return 0;
}

struct LogsArgs {
  uint64_t guest = 0;
  bool follow = false;
  bool only_stdout = false;
  bool only_stderr = false;
};

// `hijackctl logs`: what the guest wrote, each stream to this program's stream of the same name,
// byte for byte.
int Logs(Client& c, const LogsArgs& a) {
  v1::GuestOutputRequest req;
  req.set_guest_id(a.guest);
  req.set_follow(a.follow);
  req.set_stream(a.only_stdout   ? v1::GuestOutputResponse::STDOUT
                 : a.only_stderr ? v1::GuestOutputResponse::STDERR
                                 : v1::GuestOutputResponse::STREAM_UNSPECIFIED);
  auto ctx = c.Context(/*deadline=*/!a.follow);
  auto reader = c.stub().GuestOutput(ctx.get(), req);
  v1::GuestOutputResponse msg;
  while (reader->Read(&msg)) {
    if (msg.dropped_before() > 0) {
      std::fprintf(stderr, "hijackctl: ... %llu bytes of output dropped here (the daemon keeps "
                           "the last 64 KiB of each guest) ...\n",
                   static_cast<unsigned long long>(msg.dropped_before()));
    }
    std::FILE* to = msg.stream() == v1::GuestOutputResponse::STDERR ? stderr : stdout;
    std::fwrite(msg.data().data(), 1, msg.data().size(), to);
    std::fflush(to);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    return c.Fail(s);
  }
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"hijackctl: launch, watch and re-police guests of a running hijackd", "hijackctl"};
  app.require_subcommand(1);
  // This program's own version; `hijackctl health` asks the daemon for its.
  app.set_version_flag("--version", "hijackctl " + std::string(common::Version()) + " (git " +
                                        std::string(common::GitRevision()) + ")");
  app.footer(
      "Examples:\n"
      "  hijackd serve &                                   # the daemon, socket 0600\n"
      "  hijackctl launch --policy web.json --intercept openat -- lighttpd -D -f l.conf\n"
      "  hijackctl guests\n"
      "  hijackctl policy get 1 > p.json                   # edit, then:\n"
      "  hijackctl policy set 1 p.json --expect-version 1  # ABORTED (10) if it changed meanwhile\n"
      "  hijackctl policy check p.json --guest 1\n"
      "  hijackctl events 1 --syscall %file --decision fail --follow\n"
      "  hijackctl stats 1\n"
      "  hijackctl logs 1 --follow                       # its output, until it exits\n"
      "  hijackctl kill 1 --signal INT\n"
      "  HIJACK_CONNECT=tcp:127.0.0.1:7070 HIJACK_TOKEN_FILE=~/.hijack-token hijackctl guests\n"
      "  hijackctl --connect tcp:node7:7070 --tls-ca ca.pem --tls-cert me.pem --tls-key me.key "
      "guests\n"
      "\n"
      "Exit status: 0 on success, else the gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND,\n"
      "9 FAILED_PRECONDITION, 10 ABORTED, 14 UNAVAILABLE, ...), 64 for a usage error.");
  Globals globals;
  const char* env_connect = std::getenv("HIJACK_CONNECT");
  globals.connect = env_connect != nullptr && *env_connect != '\0'
                        ? env_connect
                        : common::DefaultControlAddress();
  app.add_option("--connect", globals.connect,
                 "daemon address, unix:PATH or tcp:HOST:PORT (default: $HIJACK_CONNECT, else "
                 "the daemon's default socket)")
      ->capture_default_str();
  app.add_flag("--json", globals.json, "print JSON (events: one object per line)");
  // Bounded so that the deadline, computed in milliseconds, cannot overflow (1e300, nan).
  app.add_option("--timeout", globals.timeout_s, "deadline of each call in seconds (0: none)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  globals.tls_ca = Env("HIJACK_TLS_CA");
  globals.tls_cert = Env("HIJACK_TLS_CERT");
  globals.tls_key = Env("HIJACK_TLS_KEY");
  globals.tls_server_name = Env("HIJACK_TLS_SERVER_NAME");
  globals.token_file = Env("HIJACK_TOKEN_FILE");
  app.add_option("--tls-ca", globals.tls_ca,
                 "mutual TLS: the CA that signed hijackd's certificate (default $HIJACK_TLS_CA)");
  app.add_option("--tls-cert", globals.tls_cert,
                 "mutual TLS: this client's certificate (default $HIJACK_TLS_CERT)");
  app.add_option("--tls-key", globals.tls_key,
                 "mutual TLS: this client's private key (default $HIJACK_TLS_KEY)");
  app.add_option("--tls-server-name", globals.tls_server_name,
                 "mutual TLS: the name hijackd's certificate must carry, when it is not the "
                 "--connect host (default $HIJACK_TLS_SERVER_NAME)");
  app.add_option("--token-file", globals.token_file,
                 "send the bearer token in this file (hijackd --token-file) with every call "
                 "(default $HIJACK_TOKEN_FILE)");

  LaunchArgs launch;
  auto* launch_cmd = app.add_subcommand("launch", "start a guest under the daemon");
  launch_cmd->add_option("--policy", launch.policy_file, "policy JSON file ('-' for stdin)");
  std::string backend_help = "auto (the default: the daemon picks the first that runs there)";
  for (const auto& [kind, name] : hijack::kBackendKindNames) {
    backend_help += ", " + std::string(name);
  }
  launch_cmd->add_option("--backend", launch.backend, backend_help);
  launch_cmd
      ->add_option("--intercept", launch.intercept,
                   "extra syscalls or %classes to intercept, so later policies may use them")
      ->delimiter(',')->allow_extra_args(false);
  launch_cmd->add_option("--cwd", launch.cwd, "working directory (default: this one)");
  launch_cmd->add_flag("--agent,!--no-agent", launch.agent,
                       "preload libhijack-agent.so (the default, notify backend only)");
  launch_cmd->add_flag("--allow-io-uring", launch.allow_io_uring,
                       "let the guest use io_uring whatever its policy (io_uring operations never "
                       "pass through seccomp, so no module can decide them)");
  launch_cmd->add_flag("--no-landlock", launch.no_landlock,
                       "no Landlock floor for the policy's fs_guard, exec_guard and net_guard "
                       "rules: the modules alone enforce them, and later policies may loosen them");
  launch_cmd->add_option("command", launch.command, "program and arguments, after --")
      ->required();

  bool guests_intercept = false;
  auto* guests_cmd = app.add_subcommand("guests", "list guests");
  guests_cmd->add_flag("--intercept", guests_intercept,
                       "with --json: also each guest's intercept set by name (else its size, "
                       "intercept_count; `show` always lists it)");
  uint64_t guest_id = 0;
  auto* show_cmd = app.add_subcommand("show", "describe one guest");
  show_cmd->add_option("guest", guest_id, "guest id")->required();

  std::string signal_text = "TERM";
  auto* kill_cmd = app.add_subcommand("kill", "send a signal to a guest");
  kill_cmd->add_option("guest", guest_id, "guest id")->required();
  kill_cmd->add_option("-s,--signal", signal_text, "signal name or number")
      ->capture_default_str();

  auto* policy_cmd = app.add_subcommand("policy", "read, replace or check policies");
  policy_cmd->require_subcommand(1);
  auto* get_cmd = policy_cmd->add_subcommand("get", "print a guest's policy document");
  get_cmd->add_option("guest", guest_id, "guest id")->required();
  std::string policy_file;
  std::optional<uint64_t> expected_version;
  auto* set_cmd = policy_cmd->add_subcommand("set", "replace a guest's policy atomically");
  set_cmd->add_option("guest", guest_id, "guest id")->required();
  set_cmd->add_option("file", policy_file, "policy JSON file ('-' for stdin)")->required();
  set_cmd->add_option("--expect-version", expected_version,
                      "only if the current version is this one (else ABORTED)");
  uint64_t check_guest = 0;
  auto* check_cmd = policy_cmd->add_subcommand("check", "validate a policy without applying it");
  check_cmd->add_option("file", policy_file, "policy JSON file ('-' for stdin)")->required();
  check_cmd->add_option("--guest", check_guest,
                        "also check it fits this guest's intercept set");

  app.add_subcommand("modules", "list the policy modules the daemon knows");
  auto* stats_cmd = app.add_subcommand("stats", "per-syscall and per-module counters");
  stats_cmd->add_option("guest", guest_id, "guest id")->required();

  EventsArgs events;
  auto* events_cmd = app.add_subcommand("events", "watch calls as they are decided");
  events_cmd->add_option("guest", events.guest, "guest id (default: every guest)");
  events_cmd->add_option("--syscall", events.syscalls, "only these syscalls or %classes")
      ->delimiter(',')->allow_extra_args(false);
  events_cmd
      ->add_option("--decision", events.decisions, "only continue, fail, return or inject_fd")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->transform(CLI::CheckedTransformer(DecisionWords()));
  events_cmd->add_flag("-f,--follow", events.follow, "keep watching until interrupted");
  events_cmd->add_option("--count", events.count, "without --follow: stop after this many")
      ->capture_default_str();
  events_cmd->add_option("--queue", events.queue,
                         "server-side queue of this stream in events (default 1024)");
  events_cmd->add_flag("--audit", events.audit,
                       "also show the audit record of every launch, kill and policy set");
  LogsArgs logs;
  auto* logs_cmd = app.add_subcommand(
      "logs", "what a guest wrote to its standard output and error (the last 64 KiB)");
  logs_cmd->add_option("guest", logs.guest, "guest id")->required();
  logs_cmd->add_flag("-f,--follow", logs.follow, "keep printing new output until the guest exits");
  auto* only_out = logs_cmd->add_flag("--stdout", logs.only_stdout, "only standard output");
  logs_cmd->add_flag("--stderr", logs.only_stderr, "only standard error")->excludes(only_out);
  app.add_subcommand("whoami", "who the daemon takes this caller for, and what it may do");
  app.add_subcommand("health",
                     "whether the daemon serves, its version, and what its host offers");

  std::vector<std::string> backends{"auto"};
  for (const auto& [kind, name] : hijack::kBackendKindNames) {
    backends.emplace_back(name);
  }
  // `hijackctl man` and `hijackctl completion bash|zsh`, from this tree (common/cli_docs.h).
  common::AddDocCommands(app, {.section = 1,
                               .manual = "User Commands",
                               .see_also = {"hijackd(8)", "hijack-policy(5)"},
                               .choices = {{"--backend", std::move(backends)}},
                               .sections = {},
                               .pages = {}});
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsageError;
  }
  signal(SIGPIPE, SIG_IGN);

  Client client(globals);
  if (!client.Connect()) {
    return kUsageError;
  }
  if (launch_cmd->parsed()) {
    return Launch(client, launch);
  }
  if (guests_cmd->parsed()) {
    return Guests(client, guests_intercept);
  }
  if (logs_cmd->parsed()) {
    return Logs(client, logs);
  }
  if (show_cmd->parsed()) {
    return Show(client, guest_id);
  }
  if (kill_cmd->parsed()) {
    return Kill(client, guest_id, signal_text);
  }
  if (get_cmd->parsed()) {
    return PolicyGet(client, guest_id);
  }
  if (set_cmd->parsed()) {
    return PolicySet(client, guest_id, policy_file, expected_version);
  }
  if (check_cmd->parsed()) {
    return PolicyCheck(client, policy_file, check_guest);
  }
  if (app.got_subcommand("modules")) {
    return Modules(client);
  }
  if (stats_cmd->parsed()) {
    return Stats(client, guest_id);
  }
  if (events_cmd->parsed()) {
    return Events(client, events);
  }
  if (app.got_subcommand("whoami")) {
    return Whoami(client);
  }
  if (app.got_subcommand("health")) {
    return Health(client);
  }
  return kUsageError;
}

}  // namespace hijack::cli

int main(int argc, char** argv) { return hijack::cli::Main(argc, argv); }
