#include "daemon/modules/cpushare/cpu_reservation.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/monotonic.h"
#include "common/sched_attr.h"
#include "daemon/modules/cpushare/guest_tree.h"

namespace hijack::modules {
namespace {

constexpr int64_t kTickNs = 10'000'000;      // the controllers' step
constexpr int64_t kTreeScanNs = 50'000'000;  // how often the controllers rescan /proc
// sched(7): the kernel refuses a runtime below 1024 ns (DL_SCALE).
constexpr uint64_t kMinDeadlineRuntimeNs = 1024;
#ifndef SCHED_DEADLINE
constexpr int SCHED_DEADLINE = 6;
#endif

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<void> WriteText(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError(errno, "open " + path);
  }
  const ssize_t n = write(fd, text.data(), text.size());
  const int err = errno;
  close(fd);
  if (n < 0) {
    return ErrnoError(err, fmt::format("write \"{}\" to {}", text, path));
  }
  return {};
}

bool HasWord(const std::string& list, std::string_view word, char sep) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(sep, start);
    if (end == std::string::npos) {
      end = list.size();
    }
    if (std::string_view(list).substr(start, end - start) == word) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// The cgroup the cpu controller puts this process in: v1 (a hierarchy with "cpu" among its
// controllers) or v2 (the unified one, with "cpu" in its controllers), from /proc/self/mountinfo
// and /proc/self/cgroup (cgroups(7)).
void ProbeCgroup(CpuMechanisms& host) {
  std::string v1_mount;
  std::string v2_mount;
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);) {
    // "... mount_point options - fstype source super_options"
    std::istringstream in(line);
    std::string id, parent, dev, root, point;
    in >> id >> parent >> dev >> root >> point;
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    std::istringstream tail(line.substr(dash + 3));
    std::string type, source, options;
    tail >> type >> source >> options;
    if (type == "cgroup" && HasWord(options, "cpu", ',') && v1_mount.empty()) {
      v1_mount = point;
    } else if (type == "cgroup2" && v2_mount.empty()) {
      v2_mount = point;
    }
  }
  std::string v1_path;
  std::string v2_path;
  std::ifstream groups("/proc/self/cgroup");
  for (std::string line; std::getline(groups, line);) {
    const size_t a = line.find(':');
    const size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) {
      continue;
    }
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (controllers.empty() && line.substr(0, a) == "0") {
      v2_path = path;
    } else if (HasWord(controllers, "cpu", ',')) {
      v1_path = path;
    }
  }
  std::vector<std::string> why_not;
  auto try_parent = [&](const std::string& parent, bool v2) -> bool {
    const std::string probe = fmt::format("{}/hijack-probe-{}", parent, getpid());
    if (mkdir(probe.c_str(), 0755) != 0) {
      why_not.push_back(fmt::format("mkdir {}: {}", probe, strerrorname_np(errno)));
      return false;
    }
    struct stat st {};
    const bool ok =
        stat((probe + (v2 ? "/cpu.max" : "/cpu.cfs_quota_us")).c_str(), &st) == 0;
    rmdir(probe.c_str());
    if (!ok) {
      why_not.push_back(probe + " has no bandwidth files");
    }
    return ok;
  };
  if (!v2_mount.empty()) {
    const std::string parent = v2_mount + (v2_path == "/" ? "" : v2_path);
    std::string sub = ReadText(parent + "/cgroup.subtree_control");
    std::replace(sub.begin(), sub.end(), '\n', ' ');
    if (!HasWord(sub, "cpu", ' ')) {
      why_not.push_back(fmt::format(
          "cgroup v2 at {}: no cpu controller for its children (cgroup.subtree_control: \"{}\")",
          parent, sub.substr(0, sub.find_last_not_of(' ') + 1)));
    } else if (try_parent(parent, true)) {
      host.cgroup = {true, "cgroup v2 cpu.max under " + parent};
      host.cgroup_parent = parent;
      host.cgroup_v2 = true;
      return;
    }
  }
  if (!v1_mount.empty()) {
    const std::string parent = v1_mount + (v1_path == "/" ? "" : v1_path);
    if (try_parent(parent, false)) {
      host.cgroup = {true, "cgroup v1 cpu.cfs_quota_us under " + parent};
      host.cgroup_parent = parent;
      return;
    }
  } else {
    why_not.push_back("no cgroup v1 hierarchy with the cpu controller");
  }
  std::string detail;
  for (const auto& w : why_not) {
    detail += (detail.empty() ? "" : "; ") + w;
  }
  host.cgroup = {false, detail};
}

void ProbeDeadline(CpuMechanisms& host) {
  // On a thread of its own: the probe must not change the class of a thread that stays.
  int err = 0;
  std::thread([&] {
    common::SchedAttr a;
    a.sched_policy = SCHED_DEADLINE;
    a.sched_flags = common::kSchedFlagResetOnFork;
    a.sched_runtime = 100'000;
    a.sched_deadline = a.sched_period = 100'000'000;
    if (common::SetSchedAttr(0, a) != 0) {
      err = errno;
      return;
    }
    common::SchedAttr other;
    other.sched_policy = SCHED_OTHER;
    common::SetSchedAttr(0, other);
  }).join();
  if (err != 0) {
    host.deadline = {false, fmt::format("sched_setattr(SCHED_DEADLINE): {} ({})",
                                        strerrorname_np(err),
                                        err == EPERM ? "needs CAP_SYS_NICE" : strerror(err))};
  } else {
    host.deadline = {true, fmt::format("SCHED_DEADLINE, up to {:.0f}% of each of {} CPUs",
                                       host.deadline_limit * 100, host.cpus)};
  }
}

// ---- sched_deadline ----

class DeadlineReservation final : public CpuReservation {
 public:
  explicit DeadlineReservation(const ReservationSpec& spec) : spec_(spec), tree_(spec.root) {}
  ~DeadlineReservation() override { (void)Stop(); }

  Result<void> Begin() {
    tree_.Refresh();
    Apply();
    if (reserved_.empty()) {
      return std::unexpected(Error{last_errno_ != 0 ? last_errno_ : ESRCH,
                                   "sched_setattr(SCHED_DEADLINE) of guest " +
                                       std::to_string(spec_.guest) + ": " + last_error_});
    }
    start_cpu_ = 0;
    return {};
  }

  int64_t Tick(int64_t now_ns) override {
    if (!stopped_) {
      // New threads of known processes every tick (their task directories), new processes at
      // the rate of a whole scan of /proc.
      if (now_ns - scanned_ns_ >= kTreeScanNs) {
        tree_.Refresh();
        scanned_ns_ = now_ns;
      }
      Apply();
      cpu_ns_ = SumCpu();
    }
    return now_ns + kTickNs;
  }

  Result<void> Stop() override {
    if (stopped_) {
      return {};
    }
    cpu_ns_ = SumCpu();
    stopped_ = true;
    for (const auto& [tid, original] : original_) {
      if (common::SetSchedAttr(tid, original) != 0 && errno != ESRCH) {
        spdlog::warn("cpushare: guest {}: restoring the scheduling of thread {}: {}", spec_.guest,
                     tid, strerrorname_np(errno));
      }
    }
    original_.clear();
    reserved_.clear();
    return {};
  }

  nlohmann::json Usage() const override {
    return {{"cpu_ns", cpu_ns_},
            {"threads", reserved_.size()},
            {"runtime_ns_per_thread", runtime_},
            {"refused", refused_},
            {"last_error", last_error_}};
  }

 private:
  int64_t SumCpu() const {
    int64_t sum = 0;
    for (pid_t p : tree_.processes()) {
      sum += CpuTimeNs(p);
    }
    return sum;
  }

  // Every thread of the tree under the reservation, the budget split evenly between them.
  void Apply() {
    std::vector<pid_t> threads = tree_.Threads();
    std::sort(threads.begin(), threads.end());
    if (threads.empty()) {
      return;
    }
    const uint64_t runtime = std::max<uint64_t>(
        kMinDeadlineRuntimeNs, static_cast<uint64_t>(spec_.budget_ns) / threads.size());
    const bool rebalance = runtime != runtime_;
    std::set<pid_t> now;
    for (pid_t tid : threads) {
      if (!rebalance && reserved_.contains(tid)) {
        now.insert(tid);
        continue;
      }
      if (!original_.contains(tid)) {
        common::SchedAttr before;
        if (common::GetSchedAttr(tid, before) != 0) {
          continue;  // gone
        }
        if (before.sched_policy == SCHED_DEADLINE) {
          before = common::SchedAttr{};  // reset-on-fork left it so: back to the default class
        }
        original_[tid] = before;
      }
      common::SchedAttr a;
      a.sched_policy = SCHED_DEADLINE;
      a.sched_flags = common::kSchedFlagResetOnFork;
      a.sched_runtime = runtime;
      a.sched_deadline = a.sched_period = static_cast<uint64_t>(spec_.period_ns);
      if (common::SetSchedAttr(tid, a) == 0) {
        now.insert(tid);
      } else if (errno != ESRCH) {
        // EBUSY: the kernel's admission test refused the bandwidth (sched(7)).
        ++refused_;
        last_errno_ = errno;
        last_error_ = fmt::format("thread {}: {}", tid, strerrorname_np(errno));
      }
    }
    for (auto it = original_.begin(); it != original_.end();) {
      it = std::binary_search(threads.begin(), threads.end(), it->first) ? std::next(it)
                                                                        : original_.erase(it);
    }
    reserved_ = std::move(now);
    runtime_ = runtime;
  }

  const ReservationSpec spec_;
  GuestTree tree_;
  std::map<pid_t, common::SchedAttr> original_;
  std::set<pid_t> reserved_;
  uint64_t runtime_ = 0;
  uint64_t refused_ = 0;
  int last_errno_ = 0;
  std::string last_error_;
  int64_t start_cpu_ = 0;
  int64_t cpu_ns_ = 0;
  int64_t scanned_ns_ = 0;
  bool stopped_ = false;
};

// ---- cgroup ----

class CgroupReservation final : public CpuReservation {
 public:
  CgroupReservation(const ReservationSpec& spec, const CpuMechanisms& host)
      : spec_(spec),
        v2_(host.cgroup_v2),
        parent_(host.cgroup_parent),
        dir_(fmt::format("{}/hijack-{}-{}-g{}", host.cgroup_parent, getpid(), spec.tag,
                         spec.guest)),
        tree_(spec.root) {}
  ~CgroupReservation() override { (void)Stop(); }

  Result<void> Begin() {
    if (mkdir(dir_.c_str(), 0755) != 0) {
      return ErrnoError(errno, "mkdir " + dir_);
    }
    made_ = true;
    const int64_t quota_us = spec_.budget_ns / 1000;
    const int64_t period_us = spec_.period_ns / 1000;
    Result<void> set;
    if (v2_) {
      set = WriteText(dir_ + "/cpu.max", fmt::format("{} {}", quota_us, period_us));
    } else {
      set = WriteText(dir_ + "/cpu.cfs_period_us", std::to_string(period_us));
      if (set) {
        set = WriteText(dir_ + "/cpu.cfs_quota_us", std::to_string(quota_us));
      }
    }
    if (!set) {
      (void)Stop();
      return set;
    }
    // Moved until a pass moves nothing new: a process forked during a pass is born in the old
    // group, and the next pass takes it.
    for (int pass = 0; pass < 8; ++pass) {
      tree_.Refresh();
      size_t moved = 0;
      for (pid_t p : tree_.processes()) {
        if (moved_.insert(p).second) {
          if (auto w = WriteText(dir_ + "/cgroup.procs", std::to_string(p)); !w) {
            if (w.error().code != ESRCH) {
              (void)Stop();
              return w;
            }
          }
          ++moved;
        }
      }
      if (moved == 0) {
        break;
      }
    }
    return {};
  }

  int64_t Tick(int64_t now_ns) override {
    if (!stopped_) {
      cpu_ns_ = GroupCpu();
    } else if (made_) {
      TryRemove();  // a group busy with exiting tasks at Stop
    }
    return now_ns + kTickNs * 10;
  }

  Result<void> Stop() override {
    if (!made_) {
      return {};
    }
    if (!stopped_) {
      cpu_ns_ = GroupCpu();
      stopped_ = true;
      // Back to the group they came from, until none is left (a fork during the pass).
      for (int pass = 0; pass < 100; ++pass) {
        std::istringstream procs(ReadText(dir_ + "/cgroup.procs"));
        bool any = false;
        for (pid_t p; procs >> p;) {
          any = true;
          (void)WriteText(parent_ + "/cgroup.procs", std::to_string(p));
        }
        if (!any) {
          break;
        }
      }
    }
    return TryRemove();
  }

  nlohmann::json Usage() const override {
    return {{"cpu_ns", cpu_ns_}, {"group", dir_}, {"removed", !made_}};
  }

 private:
  Result<void> TryRemove() {
    if (rmdir(dir_.c_str()) == 0 || errno == ENOENT) {
      made_ = false;
      return {};
    }
    return ErrnoError(errno, "rmdir " + dir_);
  }

  int64_t GroupCpu() const {
    if (v2_) {
      // cpu.stat: "usage_usec N".
      std::istringstream in(ReadText(dir_ + "/cpu.stat"));
      for (std::string key; in >> key;) {
        int64_t v = 0;
        in >> v;
        if (key == "usage_usec") {
          return v * 1000;
        }
      }
      return cpu_ns_;
    }
    int64_t sum = 0;
    for (pid_t p : tree_.processes()) {
      sum += CpuTimeNs(p);
    }
    return std::max(sum, cpu_ns_);
  }

  const ReservationSpec spec_;
  const bool v2_;
  const std::string parent_;
  const std::string dir_;
  GuestTree tree_;
  std::set<pid_t> moved_;
  bool made_ = false;
  bool stopped_ = false;
  int64_t cpu_ns_ = 0;
};

// ---- signals: the user-level service manager ----

class SignalReservation final : public CpuReservation {
 public:
  explicit SignalReservation(const ReservationSpec& spec)
      : spec_(spec),
        share_(static_cast<double>(spec.budget_ns) / static_cast<double>(spec.period_ns)),
        tree_(spec.root) {}
  ~SignalReservation() override { (void)Stop(); }

  Result<void> Begin(int64_t now_ns) {
    if (!tree_.Refresh()) {
      return std::unexpected(
          Error{ESRCH, "guest " + std::to_string(spec_.guest) + " has no process left"});
    }
    scanned_ns_ = now_ns;
    for (pid_t p : tree_.processes()) {
      last_[p] = CpuTimeNs(p);  // what it used before the reservation is not charged
    }
    tick_start_ns_ = now_ns;
    integral_ = static_cast<double>(spec_.budget_ns);  // a full budget to start with
    return {};
  }

  int64_t Tick(int64_t now_ns) override {
    if (stopped_) {
      return now_ns + kTickNs;
    }
    if (stop_at_ns_ != 0 && now_ns >= stop_at_ns_) {
      // The running time the law gave this tick is over.
      Signal(SIGSTOP);
      stop_at_ns_ = 0;
      if (now_ns < tick_start_ns_ + kTickNs) {
        return tick_start_ns_ + kTickNs;
      }
    }
    if (now_ns < tick_start_ns_ + kTickNs) {
      return stop_at_ns_ != 0 ? stop_at_ns_ : tick_start_ns_ + kTickNs;
    }
    if (now_ns - scanned_ns_ >= kTreeScanNs) {
      tree_.Refresh();
      scanned_ns_ = now_ns;
    }
    // The CPU time of this tick; a process seen for the first time is charged from its birth.
    int64_t used = 0;
    std::map<pid_t, int64_t> next;
    for (pid_t p : tree_.processes()) {
      const int64_t t = CpuTimeNs(p);
      auto it = last_.find(p);
      used += std::max<int64_t>(0, t - (it != last_.end() ? it->second : 0));
      next[p] = t;
    }
    last_ = std::move(next);
    cpu_ns_ += used;
    const double dt = static_cast<double>(now_ns - tick_start_ns_);
    // The PID law on the service error e (ns of CPU owed minus used, this tick): the integral is
    // the guest's credit, bounded to one budget either way (anti-windup: an idle guest saves at
    // most one budget, as a deadline task does); the proportional and derivative terms damp the
    // overshoot a whole tick of running would cause when the credit is nearly spent.
    const double e = share_ * dt - static_cast<double>(used);
    const double budget = static_cast<double>(spec_.budget_ns);
    integral_ = std::clamp(integral_ + e, -budget, budget);
    const double out = kKp * e + kKi * integral_ + kKd * (e - last_e_);
    last_e_ = e;
    // How fast the guest spends CPU while it runs (several threads: more than 1), to turn the
    // allowed CPU time into running time.
    if (ran_ns_ > kTickNs / 10) {
      const double rate = static_cast<double>(used) / static_cast<double>(ran_ns_);
      rate_ = std::clamp(0.7 * rate_ + 0.3 * std::max(rate, 0.05), 0.05, 256.0);
    }
    const double run = std::clamp(out / rate_, 0.0, static_cast<double>(kTickNs));
    tick_start_ns_ = now_ns;
    if (run < kTickNs / 100) {
      Signal(SIGSTOP);
      ran_ns_ = 0;
      stop_at_ns_ = 0;
      return now_ns + kTickNs;
    }
    Signal(SIGCONT);
    ran_ns_ = static_cast<int64_t>(run);
    if (run >= static_cast<double>(kTickNs)) {
      stop_at_ns_ = 0;
      return now_ns + kTickNs;
    }
    stop_at_ns_ = now_ns + static_cast<int64_t>(run);
    return stop_at_ns_;
  }

  Result<void> Stop() override {
    if (stopped_) {
      return {};
    }
    stopped_ = true;
    tree_.Refresh();
    stopped_now_ = true;  // force the SIGCONT
    Signal(SIGCONT);
    for (pid_t p : ever_stopped_) {
      kill(p, SIGCONT);  // a process that left the tree (reparented) since it was stopped
    }
    ever_stopped_.clear();
    return {};
  }

  nlohmann::json Usage() const override {
    return {{"cpu_ns", cpu_ns_},
            {"processes", tree_.processes().size()},
            {"stops", stops_},
            {"credit_ns", static_cast<int64_t>(integral_)}};
  }

 private:
  static constexpr double kKp = 0.3;
  static constexpr double kKi = 1.0;
  static constexpr double kKd = 0.1;

  void Signal(int sig) {
    const bool stop = sig == SIGSTOP;
    if (stop == stopped_now_) {
      return;
    }
    for (pid_t p : tree_.processes()) {
      if (kill(p, sig) == 0 && stop) {
        ever_stopped_.insert(p);
      }
    }
    if (stop) {
      ++stops_;
    } else {
      ever_stopped_.clear();
    }
    stopped_now_ = stop;
  }

  const ReservationSpec spec_;
  const double share_;
  GuestTree tree_;
  std::map<pid_t, int64_t> last_;
  std::set<pid_t> ever_stopped_;
  int64_t scanned_ns_ = 0;
  int64_t tick_start_ns_ = 0;
  int64_t stop_at_ns_ = 0;
  int64_t ran_ns_ = kTickNs;
  double rate_ = 1.0;
  double integral_ = 0;
  double last_e_ = 0;
  int64_t cpu_ns_ = 0;
  uint64_t stops_ = 0;
  bool stopped_now_ = false;
  bool stopped_ = false;
};

}  // namespace

const char* MechanismName(CpuMechanism m) {
  switch (m) {
    case CpuMechanism::kDeadline:
      return "sched_deadline";
    case CpuMechanism::kCgroup:
      return "cgroup";
    case CpuMechanism::kSignals:
      return "signals";
  }
  return "?";
}

const CpuMechanisms::Probe& CpuMechanisms::Of(CpuMechanism m) const {
  switch (m) {
    case CpuMechanism::kDeadline:
      return deadline;
    case CpuMechanism::kCgroup:
      return cgroup;
    case CpuMechanism::kSignals:
      break;
  }
  return signals;
}

CpuMechanism CpuMechanisms::Best() const {
  return deadline.available ? CpuMechanism::kDeadline
         : cgroup.available ? CpuMechanism::kCgroup
                            : CpuMechanism::kSignals;
}

nlohmann::json CpuMechanisms::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (CpuMechanism m : {CpuMechanism::kDeadline, CpuMechanism::kCgroup, CpuMechanism::kSignals}) {
    out[MechanismName(m)] = (Of(m).available ? "yes: " : "no: ") + Of(m).detail;
  }
  return out;
}

const CpuMechanisms& ProbeCpuMechanisms() {
  static const CpuMechanisms* host = [] {
    auto* h = new CpuMechanisms();
    h->cpus = std::max(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
    const std::string runtime = ReadText("/proc/sys/kernel/sched_rt_runtime_us");
    const std::string period = ReadText("/proc/sys/kernel/sched_rt_period_us");
    const double r = std::atof(runtime.c_str());
    const double p = std::atof(period.c_str());
    h->deadline_limit = r < 0 ? 1.0 : p > 0 ? r / p : 0.95;
    ProbeDeadline(*h);
    ProbeCgroup(*h);
    h->signals = {true, "SIGSTOP/SIGCONT from a controller sampling CPU time every 10 ms"};
    return h;
  }();
  return *host;
}

Result<std::unique_ptr<CpuReservation>> CpuReservation::Start(CpuMechanism m,
                                                              const CpuMechanisms& host,
                                                              const ReservationSpec& spec) {
  switch (m) {
    case CpuMechanism::kDeadline: {
      auto r = std::make_unique<DeadlineReservation>(spec);
      HIJACK_TRY(r->Begin());
      return r;
    }
    case CpuMechanism::kCgroup: {
      auto r = std::make_unique<CgroupReservation>(spec, host);
      HIJACK_TRY(r->Begin());
      return r;
    }
    case CpuMechanism::kSignals: {
      auto r = std::make_unique<SignalReservation>(spec);
      HIJACK_TRY(r->Begin(common::MonotonicNs()));
      return r;
    }
  }
  return MakeError("unknown mechanism");
}

int64_t CpuTimeNs(pid_t pid) {
  clockid_t clock;
  if (clock_getcpuclockid(pid, &clock) != 0) {
    return 0;
  }
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) {
    return 0;
  }
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace hijack::modules
