// The worker pool behind kk::parallel_for. Workers are detached POSIX threads that sleep on a
// condition variable between calls (after a short spin, so that back-to-back calls, such as the
// layers of a network, do not pay a wake-up each). A call publishes its job under the pool's mutex
// and bumps a generation counter; the caller and the workers it asked for claim chunks of tasks
// from atomic counters (their own share first, see Job); the caller waits until every worker has
// left the job. pthread_atfork takes the mutex around fork() (so no job is half published) and, in
// the child, forgets the parent's workers, which do not exist there. A worker runs a job in the floating-point mode of
// the thread that started it (kernelkit/float_mode.hpp), and goes back to its own afterwards.
#include "kernelkit/parallel.hpp"

#include <pthread.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>

#include "kernelkit/float_mode.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KK_PAUSE() _mm_pause()
#else
#define KK_PAUSE() ((void)0)
#endif

namespace kk {
namespace {

using i64 = std::int64_t;

// Pause rounds (tens of microseconds) a thread spins before it sleeps; none when the pool has more
// threads than the machine has cores, where a spinning thread takes the core of one that works.
constexpr int kSpinRounds = 4000;

// A spinning thread yields its core every this many pause rounds: where the scheduler has put a
// worker on the caller's core, spinning alone would keep the other from running until the spin ends.
constexpr int kYieldEvery = 64;

void spin_pause(int spin) {
  KK_PAUSE();
  if (spin % kYieldEvery == kYieldEvery - 1) std::this_thread::yield();
}

int spin_rounds(int threads) {
  static const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return threads > cores ? 0 : kSpinRounds;
}

thread_local int current_index = 0;
thread_local bool inside_call = false;
thread_local bool pool_worker = false;  // workers never run the interrupt check
std::atomic<InterruptCheck> interrupt_check{nullptr};
thread_local int interruptible_calls = 0;  // InterruptibleCall scopes open on this thread
thread_local std::chrono::steady_clock::time_point last_interrupt_check;

// One thread's share of a job's tasks, [next, end) still to run, on a cache line of its own.
struct alignas(64) Share {
  std::atomic<i64> next{0};
  i64 end = 0;
};

struct Job {
  detail::TaskRange body;
  void* context;
  i64 tasks, chunk;
  int threads;
  FloatMode float_mode;  // the starting thread's (FTZ/DAZ, rounding): the workers take it on
  int caller_cpu = -1;   // where the starting thread runs (Linux), else -1
  // Thread i first runs share i, a contiguous range of the tasks, then takes what is left of the
  // others. Each thread thus writes the same part of the output in every call of the same shape
  // (where it still lies in that core's cache) instead of a different part each time (fetched
  // from the other core's: one RGB image through a 16-filter 3x3 layer, 2 threads, 1.38x one
  // thread's speed with one shared counter, 1.9x with shares).
  // Threads beyond kMaxShares start in share i % kMaxShares (still claimed one chunk at a time).
  static constexpr int kMaxShares = 32;
  Share shares[kMaxShares];
  int share_count = 1;
  std::atomic<int> left{0};  // workers still inside the job
  std::atomic<bool> stop{false};
};

// The interrupt check, run by the thread that started the job, at most every kInterruptCheckSeconds
// since the last check or the start of the InterruptibleCall (of the job, outside one).
class Checker {
 public:
  explicit Checker(bool starter)
      : check_(starter && !pool_worker ? interrupt_check.load(std::memory_order_relaxed) : nullptr) {
    if (interruptible_calls == 0) last_interrupt_check = std::chrono::steady_clock::now();
  }

  bool stop_now() {
    if (check_ == nullptr) return false;
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_interrupt_check).count() < kInterruptCheckSeconds) return false;
    last_interrupt_check = now;
    const CallerFloatMode callers_mode;  // the check may run Python code (signal handlers)
    return check_();
  }

 private:
  InterruptCheck check_;
};

// A worker that the scheduler has put on the caller's core (seen after pauses on virtual machines,
// for tens to hundreds of calls: the two threads then share one core while another idles) moves
// off it: its affinity without that core for a moment, then as it was.
void leave_callers_cpu(int caller_cpu) {
#if defined(__linux__)
  if (caller_cpu < 0 || sched_getcpu() != caller_cpu) return;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2 ||
      !CPU_ISSET(caller_cpu, &allowed))
    return;
  cpu_set_t elsewhere = allowed;
  CPU_CLR(caller_cpu, &elsewhere);
  if (sched_setaffinity(0, sizeof(elsewhere), &elsewhere) == 0) sched_setaffinity(0, sizeof(allowed), &allowed);
#else
  (void)caller_cpu;
#endif
}

void run_share(Job& job, int index) {
  current_index = index;
  inside_call = true;
  Checker checker(index == 0);
  for (int k = 0; k < job.share_count; ++k) {
    Share& share = job.shares[(index + k) % job.share_count];  // own share first
    while (!job.stop.load(std::memory_order_relaxed)) {
      const i64 begin = share.next.fetch_add(job.chunk, std::memory_order_relaxed);
      if (begin >= share.end) break;
      job.body(job.context, begin, std::min(share.end, begin + job.chunk));
      if (checker.stop_now()) job.stop.store(true, std::memory_order_relaxed);
    }
  }
  inside_call = false;
  current_index = 0;
}

// A loop started inside a task runs inline on that thread, without an interrupt check of its own.
void run_nested(Job& job) {
  for (i64 begin = 0; begin < job.tasks; begin += job.chunk)
    job.body(job.context, begin, std::min(job.tasks, begin + job.chunk));
}

class Pool {
 public:
  static Pool& instance() {
    static Pool* pool = new Pool();  // never destroyed: workers may outlive static destruction
    return *pool;
  }

  // Runs the job on the caller and up to job.threads - 1 workers; false when the pool is busy.
  bool run(Job& job) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    const int helpers = job.threads - 1;
    {
      std::lock_guard<std::mutex> lock(mutex_);  // against a lost wake-up of a sleeping worker
      if (!start_workers(helpers)) {
        busy_.store(false, std::memory_order_release);
        return false;
      }
      job.left.store(helpers, std::memory_order_relaxed);
#if defined(__linux__)
      job.caller_cpu = sched_getcpu();
#endif
      job_.store(&job, std::memory_order_relaxed);
      threads_.store(job.threads, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_share(job, 0);
    const int spins = spin_rounds(workers_.load(std::memory_order_relaxed) + 1);
    for (int spin = 0; job.left.load(std::memory_order_acquire) > 0; ++spin) {
      if (spin < spins) {
        spin_pause(spin);
      } else {
        std::unique_lock<std::mutex> wait(mutex_);
        done_.wait(wait, [&] { return job.left.load(std::memory_order_acquire) == 0; });
      }
    }
    busy_.store(false, std::memory_order_release);
    return true;
  }

  void before_fork() { mutex_.lock(); }
  void after_fork_in_parent() { mutex_.unlock(); }
  void after_fork_in_child() {
    // The parent's workers do not exist here, and its job is not this process's. Start afresh.
    new (&mutex_) std::mutex();
    new (&wake_) std::condition_variable();
    new (&done_) std::condition_variable();
    workers_.store(0);
    job_.store(nullptr);
    threads_.store(0);
    generation_.store(0);
    busy_.store(false);
  }

 private:
  Pool() {
    pthread_atfork([] { instance().before_fork(); }, [] { instance().after_fork_in_parent(); },
                   [] { instance().after_fork_in_child(); });
  }

  struct Start {
    Pool* pool;
    int index;
    unsigned long seen;  // the generation before the job it was started for
  };

  // Called with the mutex held.
  bool start_workers(int wanted) {
    while (workers_.load(std::memory_order_relaxed) < wanted) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pthread_t thread;
      const int index = workers_.load(std::memory_order_relaxed) + 1;
      auto* start = new Start{this, index, generation_.load()};
      const int error = pthread_create(&thread, &attr, &Pool::worker_main, start);
      pthread_attr_destroy(&attr);
      if (error != 0) {
        delete start;
        return false;
      }
      workers_.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

  static void* worker_main(void* argument) {
    pool_worker = true;
    const Start start = *static_cast<Start*>(argument);
    delete static_cast<Start*>(argument);
    start.pool->serve(start.index, start.seen);
    return nullptr;
  }

  // Waits for a generation after `seen`: spinning first, then asleep.
  unsigned long next_generation(unsigned long seen) {
    const int spins = spin_rounds(workers_.load(std::memory_order_relaxed) + 1);
    for (int spin = 0; spin < spins; ++spin) {
      const unsigned long now = generation_.load(std::memory_order_acquire);
      if (now != seen) return now;
      spin_pause(spin);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    return generation_.load(std::memory_order_acquire);
  }

  void serve(int index, unsigned long seen) {
    for (;;) {
      const unsigned long generation = next_generation(seen);
      const int threads = threads_.load(std::memory_order_relaxed);
      Job* job = job_.load(std::memory_order_relaxed);
      // read again: the job and its thread count belong to this generation only if it did not
      // move on meanwhile (a job this worker is not part of may end, and its memory go, any time)
      if (generation_.load(std::memory_order_acquire) != generation) continue;
      seen = generation;
      if (job == nullptr || index >= threads) continue;
      const FloatMode own = current_float_mode();
      set_float_mode(job->float_mode);
      leave_callers_cpu(job->caller_cpu);
      run_share(*job, index);
      set_float_mode(own);
      if (job->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> notify(mutex_);
        done_.notify_all();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<int> workers_{0};
  std::atomic<Job*> job_{nullptr};
  std::atomic<int> threads_{0};
  std::atomic<unsigned long> generation_{0};
  std::atomic<bool> busy_{false};
};

}  // namespace

int thread_index() { return current_index; }

void set_interrupt_check(InterruptCheck check) { interrupt_check.store(check); }

InterruptibleCall::InterruptibleCall() {
  if (interruptible_calls++ == 0) last_interrupt_check = std::chrono::steady_clock::now();
}

InterruptibleCall::~InterruptibleCall() { --interruptible_calls; }

namespace detail {

void run_parallel(i64 tasks, int threads, i64 chunk, TaskRange body, void* context) {
  if (tasks <= 0) return;
  chunk = std::max<i64>(chunk, 1);
  threads = static_cast<int>(std::clamp<i64>((tasks + chunk - 1) / chunk, 1, std::max(threads, 1)));
  Job job;
  job.body = body;
  job.context = context;
  job.tasks = tasks;
  job.chunk = chunk;
  job.threads = threads;
  job.float_mode = current_float_mode();
  job.share_count = std::min(threads, Job::kMaxShares);
  for (int i = 0; i < job.share_count; ++i) {
    job.shares[i].next.store(tasks * i / job.share_count, std::memory_order_relaxed);
    job.shares[i].end = tasks * (i + 1) / job.share_count;
  }
  if (threads == 1 || inside_call || !Pool::instance().run(job)) {
    // one thread, a call from inside a task, or the pool busy with another caller's call
    const bool nested = inside_call;
    const int index = current_index;
    job.threads = 1;
    if (nested) {  // the outer loop's starter checks; a nested loop only obeys
      run_nested(job);
    } else {
      run_share(job, 0);
    }
    inside_call = nested;
    current_index = index;
  }
  if (job.stop.load()) throw Interrupted();
}

}  // namespace detail
}  // namespace kk
