// hijack_bench_threads: many threads hammering pipes and futexes, the guest of bench/threads.
//
//   hijack_bench_threads 32 2000     # 32 threads x 2000 rounds, then exit 0
//
// Each thread owns a pipe and, per round, writes one byte into it and reads it back (two system
// calls that never block), then takes and releases a mutex that every thread shares (under
// contention, futex(2) waits and wakes). So the run is mostly system calls from many threads at
// once, as in a thread-pool server: the case where a supervisor that serialises its guests'
// calls, or an agent whose per-thread state is contended, costs most. bench/threads times whole
// runs (hijack_bench_startup) under each mode, interleaved.
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
unsigned long counter = 0;  // guarded by `shared`
int rounds = 0;

void* Hammer(void*) {
  int p[2];
  if (pipe(p) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  char byte = 'x';
  for (int i = 0; i < rounds; ++i) {
    if (write(p[1], &byte, 1) != 1 || read(p[0], &byte, 1) != 1) {
      std::perror("pipe round trip");
      std::exit(1);
    }
    pthread_mutex_lock(&shared);
    ++counter;
    pthread_mutex_unlock(&shared);
  }
  close(p[0]);
  close(p[1]);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: hijack_bench_threads THREADS ROUNDS\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  rounds = std::atoi(argv[2]);
  if (threads <= 0 || rounds <= 0) {
    std::fprintf(stderr, "hijack_bench_threads: THREADS and ROUNDS must be positive\n");
    return 2;
  }
  std::vector<pthread_t> ids(static_cast<size_t>(threads));
  for (pthread_t& id : ids) {
    if (pthread_create(&id, nullptr, Hammer, nullptr) != 0) {
      std::fprintf(stderr, "hijack_bench_threads: pthread_create failed\n");
      return 1;
    }
  }
  for (pthread_t id : ids) {
    pthread_join(id, nullptr);
  }
  if (counter != static_cast<unsigned long>(threads) * static_cast<unsigned long>(rounds)) {
    std::fprintf(stderr, "hijack_bench_threads: lost updates\n");
    return 1;
  }
  return 0;
}
