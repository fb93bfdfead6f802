#include "tests/support/subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/sockets.h"

extern char** environ;

namespace hijack::testing {
namespace {

std::vector<char*> CStrings(std::vector<std::string>& in) {
  std::vector<char*> out;
  for (auto& s : in) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> Environment(const std::vector<std::string>& add) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    env.emplace_back(*e);
  }
  env.insert(env.end(), add.begin(), add.end());
  return env;
}

int ShellCode(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// waitpid with a deadline, without sleeping blind: poll on a pidfd.
std::optional<int> WaitWithDeadline(pid_t pid, std::chrono::milliseconds deadline) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(deadline.count()));
    close(pidfd);
    if (rc == 0) {
      return std::nullopt;
    }
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    return std::nullopt;
  }
  return status;
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv_in, const ProcessOptions& opts) {
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = Environment(opts.env_add);
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  if (!opts.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&fa, opts.cwd.c_str());  // glibc 2.29
  }
  pid_t pid;
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
  (void)!write(in[1], opts.stdin_data.data(), opts.stdin_data.size());
  close(in[1]);

  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + opts.deadline;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        char buf[65536];
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
        }
      }
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) {
      close(p.fd);
    }
  }
  auto status = WaitWithDeadline(pid, std::chrono::seconds(30));
  if (!status) {
    kill(pid, SIGKILL);
    status = WaitWithDeadline(pid, std::chrono::seconds(30));
    result.timed_out = true;
  }
  result.wait_status = status.value_or(0);
  result.exit_code = ShellCode(result.wait_status);
  return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv_in,
                                     const std::string& dir) {
  static int counter = 0;
  ++counter;
  out_path_ = dir + "/bg" + std::to_string(counter) + ".out";
  err_path_ = dir + "/bg" + std::to_string(counter) + ".err";
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = Environment({});
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  int rc = posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
}

BackgroundProcess::~BackgroundProcess() {
  if (!status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitWithDeadline(pid_, std::chrono::seconds(30));
  }
}

ProcessResult BackgroundProcess::Stop(int sig, std::chrono::seconds deadline) {
  ProcessResult result;
  if (!status_) {
    kill(pid_, sig);
    status_ = WaitWithDeadline(pid_, deadline);
    if (!status_) {
      result.timed_out = true;
      kill(pid_, SIGKILL);
      status_ = WaitWithDeadline(pid_, std::chrono::seconds(30));
    }
  }
  result.wait_status = status_.value_or(0);
  result.exit_code = ShellCode(result.wait_status);
  result.out = Stdout();
  result.err = Stderr();
  return result;
}

bool BackgroundProcess::WaitForOutput(const std::string& text, std::chrono::seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (Stdout().find(text) != std::string::npos) {
      return true;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = status;
      return Stdout().find(text) != std::string::npos;
    }
    // The output lands in a file: there is no event to wait on, so poll it at a short interval.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string BackgroundProcess::Stdout() const { return ReadFile(out_path_); }
std::string BackgroundProcess::Stderr() const { return ReadFile(err_path_); }

TempDir::TempDir() {
  char tmpl[] = "/tmp/hijack-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = tmpl;
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content, int mode) const {
  std::string p = path_ + "/" + name;
  std::ofstream(p) << content;
  chmod(p.c_str(), static_cast<mode_t>(mode));
  return p;
}

StagedFiles::StagedFiles(std::initializer_list<StagedFile> files) {
  namespace fs = std::filesystem;
  for (const auto& [source, name] : files) {
    const fs::path target = fs::path(dir_.path()) / name;
    for (fs::path d = target.parent_path(); d != fs::path(dir_.path()); d = d.parent_path()) {
      fs::create_directories(d);
      chmod(d.c_str(), 0755);
    }
    std::error_code ec;
    fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
    struct stat st{};
    if (ec || stat(source.c_str(), &st) != 0) {
      throw std::runtime_error("cannot stage " + source + ": " + ec.message());
    }
    chmod(target.c_str(), (st.st_mode & 07777) | 0555);
  }
}

std::string ShellQuote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int port = BindLoopback(fd);
  close(fd);
  return port;
}

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string resp = ReadToEnd(fd);
  close(fd);
  return resp;
}

std::string HttpGetWhenUp(int port, const std::string& path, std::chrono::seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    std::string r = HttpGet(port, path);
    if (!r.empty()) {
      return r;
    }
    // Connection refused means the server is not listening yet; there is no event to wait on.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

}  // namespace hijack::testing
