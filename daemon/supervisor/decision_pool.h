// DecisionPool: the worker threads that run the decisions of policy modules that may block
// (PolicyModule::MayBlock: a plugin's round trip to its policy host, fs_guard strict's opens), so
// that the loop thread never waits for them and keeps deciding every other call.
//
//   DecisionPool pool(loop, 4);
//   pool.Run([state] { state->decision = module->Decide(...); },   // a worker
//            [state] { state->answer->Answer(...); });               // then the loop thread
//
// A guest thread has at most one call waiting for its answer, so the work queued here is bounded
// by the guest threads that wait in a blocking decision; the pool's size bounds how many of those
// run at once (the others wait their turn, their guests' other calls do not).
//
// Threads: Run() from any thread. `work` runs on one of the pool's threads, then `then` is posted
// to the loop. The destructor waits for work that is running (a plugin's round trip ends within
// its timeout_ms) and drops work not yet started; `then` of finished work is left to the loop's
// queue. Build it after the loop and destroy it before (members in that order).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <utility>

namespace hijack::supervisor {

class DecisionPool {
 public:
  // `threads` workers (at least one), started now. Their signal mask is the calling thread's:
  // build the pool where SIGCHLD is blocked, as for every supervisor thread.
  DecisionPool(boost::asio::io_context& loop, size_t threads);
  ~DecisionPool();
  DecisionPool(const DecisionPool&) = delete;
  DecisionPool& operator=(const DecisionPool&) = delete;

  size_t threads() const { return threads_; }

  // Runs `work()` on a worker, then `then()` on the loop thread. Both may be move-only; `then`
  // is moved into the loop's queue, so what it owns is released on the loop thread.
  template <typename Work, typename Then>
  void Run(Work work, Then then) {
    boost::asio::post(pool_, [loop = &loop_, work = std::move(work),
                              then = std::move(then)]() mutable {
      work();
      boost::asio::post(*loop, std::move(then));
    });
  }

 private:
  boost::asio::io_context& loop_;
  const size_t threads_;
  boost::asio::thread_pool pool_;
};

}  // namespace hijack::supervisor
