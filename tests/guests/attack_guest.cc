// A guest that attacks its supervisor, for the security tests (docs/SECURITY.md). Each mode
// makes one attack from inside the guest and prints what the kernel answered, one line per
// step ("NAME: ok" or "NAME: ERRNO"); then, when given a DIR, it tries the call the test's
// policy denies, mkdir(DIR/after), and prints "after: ok" or "after: ERRNO", so a test sees
// both that the attack failed and that the policy still holds.
//
//   attack_guest getfd-listener [DIR]   pidfd_open(2) of its supervisor (the parent), then
//                                       pidfd_getfd(2) of each of its descriptors 0..255;
//                                       prints how many it took and whether one is a listener
//   attack_guest stop-supervisor [DIR]  kill(parent, SIGSTOP), then the denied call
//   attack_guest seize [DIR]            ptrace(PTRACE_SEIZE) of the parent
//   attack_guest vm-write [DIR]         process_vm_writev(2) and process_vm_readv(2) into the
//                                       parent (at an unmapped address: EFAULT means the
//                                       access check passed)
//   attack_guest proc-mem [DIR]         open /proc/PARENT/mem and /proc/PARENT/fd
//   attack_guest kill PID [DIR]         kill(PID, SIGKILL) of a process outside its tree
//   attack_guest kill-child [DIR]       kill(2) of a child of its own (allowed: in its tree)
//   attack_guest io-uring-open PATH     IORING_OP_OPENAT of PATH through a ring of its own
//   attack_guest own-listener [DIR]     a seccomp filter of its own with a listener that answers
//                                       mkdir/mkdirat with CONTINUE, then the denied call
//   attack_guest int80 PATH             open(PATH) through the i386 ABI (int 0x80)
//   attack_guest x32                    getpid through the x32 ABI
//   attack_guest sigio [DIR]            F_SETOWN of a pipe to the parent, O_ASYNC, a write: the
//                                       parent would get SIGIO (which ends a process that does
//                                       not handle it)
//   attack_guest probe-signals [DIR]    signal 0 (no effect, only the permission check) to every
//                                       process (kill -1), to its own process group (which
//                                       holds the supervisor), to the parent by tkill(2) and
//                                       by pidfd_send_signal(2) on a /proc/PARENT directory
//   attack_guest prlimit [DIR]          prlimit64(2) of the parent's RLIMIT_NOFILE, read only
//   attack_guest sched [DIR]            sched_setaffinity(2) of the parent to the CPUs it may
//                                       use already (no change where it is allowed)
//   attack_guest host-seize             ptrace(PTRACE_SEIZE) and /proc/PID/mem of the plugin
//                                       policy host (the parent's child named
//                                       hijack-policy-host)
#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace {

const char* Outcome(long rc) {
  if (rc >= 0) {
    return "ok";
  }
  const char* name = strerrorname_np(errno);
  return name != nullptr ? name : "E?";
}

void Print(const char* step, long rc) {
  std::printf("%s: %s\n", step, Outcome(rc));
  std::fflush(stdout);
}

// The call the test's policy denies.
int After(const char* dir) {
  if (dir == nullptr) {
    return 0;
  }
  const std::string path = std::string(dir) + "/after";
  Print("after", mkdir(path.c_str(), 0755));
  return 0;
}

int GetfdListener(const char* dir) {
  const pid_t parent = getppid();
  const long pidfd = syscall(SYS_pidfd_open, parent, 0);
  Print("pidfd_open", pidfd);
  int stolen = 0;
  bool listener = false;
  if (pidfd >= 0) {
    for (int fd = 0; fd < 256; ++fd) {
      const long got = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
      if (got < 0) {
        if (errno != EBADF) {
          Print("pidfd_getfd", got);
          break;
        }
        continue;
      }
      ++stolen;
      char link[128] = {};
      const std::string self = "/proc/self/fd/" + std::to_string(got);
      if (readlink(self.c_str(), link, sizeof link - 1) > 0 &&
          std::strstr(link, "seccomp notify") != nullptr) {
        listener = true;
      }
    }
  }
  std::printf("stolen: %d\nlistener: %s\n", stolen, listener ? "yes" : "no");
  return After(dir);
}

int StopSupervisor(const char* dir) {
  Print("kill SIGSTOP", kill(getppid(), SIGSTOP));
  // If the supervisor is stopped now, this call waits for it for ever (the test's deadline).
  After(dir);
  Print("kill SIGCONT", kill(getppid(), SIGCONT));
  return 0;
}

int Seize(const char* dir) {
  const pid_t parent = getppid();
  const long rc = ptrace(PTRACE_SEIZE, parent, nullptr, nullptr);
  Print("seize", rc);
  if (rc == 0) {
    ptrace(PTRACE_DETACH, parent, nullptr, nullptr);
  }
  return After(dir);
}

int VmWrite(const char* dir) {
  char buf[8] = "hijack";
  iovec local{buf, sizeof buf};
  iovec remote{reinterpret_cast<void*>(0x1000), sizeof buf};
  Print("process_vm_writev", syscall(SYS_process_vm_writev, getppid(), &local, 1, &remote, 1, 0));
  Print("process_vm_readv", syscall(SYS_process_vm_readv, getppid(), &local, 1, &remote, 1, 0));
  return After(dir);
}

int ProcMem(pid_t target, const char* dir) {
  const std::string base = "/proc/" + std::to_string(target);
  const int mem = open((base + "/mem").c_str(), O_RDWR | O_CLOEXEC);
  Print("open mem", mem);
  DIR* fds = opendir((base + "/fd").c_str());
  Print("opendir fd", fds == nullptr ? -1 : 0);
  if (fds != nullptr) {
    closedir(fds);
  }
  return After(dir);
}

int Kill(pid_t target, const char* dir) {
  Print("kill", kill(target, SIGKILL));
  return After(dir);
}

int KillChild(const char* dir) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  Print("kill child", kill(child, SIGKILL));
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("child: %s\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "killed" : "?");
  return After(dir);
}

int Sigio(const char* dir) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    Print("pipe2", -1);
    return 1;
  }
  Print("setown", fcntl(p[0], F_SETOWN, getppid()));
  Print("o_async", fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
  Print("write", write(p[1], "x", 1));
  return After(dir);
}

int Sched(const char* dir) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(getppid(), sizeof cpus, &cpus) != 0) {
    Print("sched_getaffinity", -1);
  }
  Print("sched_setaffinity", sched_setaffinity(getppid(), sizeof cpus, &cpus));
  return After(dir);
}

int ProbeSignals(const char* dir) {
  Print("kill -1", kill(-1, 0));
  Print("kill 0", kill(0, 0));
  Print("tkill", syscall(SYS_tkill, getppid(), 0));
  const std::string proc = "/proc/" + std::to_string(getppid());
  const int dirfd = open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Print("open /proc/PARENT", dirfd);
  Print("pidfd_send_signal", syscall(SYS_pidfd_send_signal, dirfd, 0, nullptr, 0));
  return After(dir);
}

int Prlimit(const char* dir) {
  rlimit64 old{};
  Print("prlimit", syscall(SYS_prlimit64, getppid(), RLIMIT_NOFILE, nullptr, &old));
  return After(dir);
}

// IORING_OP_OPENAT through the raw interface (io_uring_setup(2), io_uring_enter(2)).
int IoUringOpen(const char* path) {
  io_uring_params params{};
  const long ring = syscall(SYS_io_uring_setup, 4, &params);
  Print("io_uring_setup", ring);
  if (ring < 0) {
    return 0;
  }
  const size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  const size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  auto* sq = static_cast<char*>(mmap(nullptr, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                     static_cast<int>(ring), IORING_OFF_SQ_RING));
  auto* cq = static_cast<char*>(mmap(nullptr, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                     static_cast<int>(ring), IORING_OFF_CQ_RING));
  auto* sqes = static_cast<io_uring_sqe*>(mmap(nullptr, params.sq_entries * sizeof(io_uring_sqe),
                                               PROT_READ | PROT_WRITE, MAP_SHARED,
                                               static_cast<int>(ring), IORING_OFF_SQES));
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
    Print("mmap ring", -1);
    return 0;
  }
  io_uring_sqe& sqe = sqes[0];
  std::memset(&sqe, 0, sizeof sqe);
  sqe.opcode = IORING_OP_OPENAT;
  sqe.fd = AT_FDCWD;
  sqe.addr = reinterpret_cast<uint64_t>(path);
  sqe.open_flags = O_RDONLY | O_CLOEXEC;
  auto* tail = reinterpret_cast<std::atomic<unsigned>*>(sq + params.sq_off.tail);
  auto* array = reinterpret_cast<unsigned*>(sq + params.sq_off.array);
  const unsigned mask = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
  const unsigned t = tail->load(std::memory_order_relaxed);
  array[t & mask] = 0;
  tail->store(t + 1, std::memory_order_release);
  Print("io_uring_enter",
        syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0));
  auto* head = reinterpret_cast<std::atomic<unsigned>*>(cq + params.cq_off.head);
  auto* cqes = reinterpret_cast<io_uring_cqe*>(cq + params.cq_off.cqes);
  const unsigned cq_mask = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_mask);
  const int res = cqes[head->load(std::memory_order_acquire) & cq_mask].res;
  if (res >= 0) {
    std::printf("io_uring openat: ok\n");
  } else {
    std::printf("io_uring openat: %s\n", strerrorname_np(-res));
  }
  return 0;
}

// A filter of the guest's own that sends mkdir and mkdirat to a listener it holds, and a thread
// that answers every notification with CONTINUE (seccomp_unotify(2)).
int OwnListener(const char* dir) {
  std::atomic<int> listener{-1};
  std::thread answerer([&listener] {
    int fd;
    while ((fd = listener.load()) == -1) {
      std::this_thread::yield();
    }
    if (fd < 0) {
      return;
    }
    for (;;) {
      seccomp_notif req{};
      if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
        return;
      }
      seccomp_notif_resp resp{};
      resp.id = req.id;
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
  });
  sock_filter insns[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mkdir, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mkdirat, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof insns / sizeof insns[0]), insns};
  const long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                          &prog);
  Print("seccomp listener", fd);
  listener.store(fd >= 0 ? static_cast<int>(fd) : -2);
  After(dir);
  std::fflush(stdout);
  _exit(0);  // the answerer blocks in its ioctl
}

// A page below 4 GiB: int 0x80 truncates pointers to 32 bits.
char* LowPage() {
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                 -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

int Int80(const char* path) {
  char* low = LowPage();
  if (low == nullptr) {
    Print("mmap MAP_32BIT", -1);
    return 1;
  }
  std::strncpy(low, path, 4095);
  long rc = 5;  // __NR_open of the i386 ABI
  asm volatile("int $0x80" : "+a"(rc) : "b"(low), "c"(O_RDONLY), "d"(0) : "memory");
  std::printf("int80 open: %ld\n", rc);
  return 0;
}

int X32() {
  long rc = 0x40000000L | 39;  // __X32_SYSCALL_BIT | __NR_getpid
  asm volatile("syscall" : "+a"(rc) : : "rcx", "r11", "memory");
  std::printf("x32 getpid: %ld\n", rc);
  return 0;
}

// The parent's child whose command is the policy host's (comm is cut to 15 characters).
pid_t FindPolicyHost() {
  const pid_t parent = getppid();
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return -1;
  }
  pid_t found = -1;
  while (dirent* e = readdir(proc)) {
    const pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) {
      continue;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const size_t open = line.find('(');
    const size_t close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) {
      continue;
    }
    const std::string comm = line.substr(open + 1, close - open - 1);
    int ppid = 0;
    char state = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent &&
        comm.starts_with("hijack-policy")) {
      found = pid;
    }
  }
  closedir(proc);
  return found;
}

int HostSeize() {
  const pid_t host = FindPolicyHost();
  std::printf("policy host: %s\n", host > 0 ? "found" : "missing");
  if (host <= 0) {
    return 1;
  }
  const long rc = ptrace(PTRACE_SEIZE, host, nullptr, nullptr);
  Print("seize", rc);
  if (rc == 0) {
    ptrace(PTRACE_DETACH, host, nullptr, nullptr);
  }
  return ProcMem(host, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: attack_guest MODE [ARGS]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const char* arg = argc > 2 ? argv[2] : nullptr;
  if (mode == "getfd-listener") return GetfdListener(arg);
  if (mode == "stop-supervisor") return StopSupervisor(arg);
  if (mode == "seize") return Seize(arg);
  if (mode == "vm-write") return VmWrite(arg);
  if (mode == "proc-mem") return ProcMem(getppid(), arg);
  if (mode == "kill" && arg != nullptr) return Kill(std::atoi(arg), argc > 3 ? argv[3] : nullptr);
  if (mode == "kill-child") return KillChild(arg);
  if (mode == "io-uring-open" && arg != nullptr) return IoUringOpen(arg);
  if (mode == "own-listener") return OwnListener(arg);
  if (mode == "int80" && arg != nullptr) return Int80(arg);
  if (mode == "x32") return X32();
  if (mode == "host-seize") return HostSeize();
  if (mode == "sigio") return Sigio(arg);
  if (mode == "prlimit") return Prlimit(arg);
  if (mode == "probe-signals") return ProbeSignals(arg);
  if (mode == "sched") return Sched(arg);
  std::fprintf(stderr, "attack_guest: unknown mode %s\n", mode.c_str());
  return 2;
}
