// kernelkit's one parallel loop: tasks spread over a pool of worker threads of its own (baseline
// code, used by every driver). The pool survives fork(): a child process starts with no workers
// and makes new ones on its first parallel call, where OpenMP's would wait forever for the
// parent's. One call uses the pool at a time; a call that finds it busy (another Python thread's)
// runs on its own thread, so concurrent callers never oversubscribe the cores beyond one thread
// each.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>

namespace kk {

// Splitting work into tasks: the tasks of `a` items `b` at a time, and the threads worth starting
// for `tasks` tasks (at most one per task, at least the caller).
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
inline int threads_for(int n_threads, std::int64_t tasks) {
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n_threads, tasks)));
}

// Thrown by parallel_for on the calling thread when the interrupt check (see below) asked it to
// stop: the tasks not yet started are skipped, those running finish, the workers go back to the
// pool. The check leaves its reason (Python's KeyboardInterrupt) for the bindings to raise.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

// Called by the thread that started a parallel loop, between chunks of tasks, at most every
// kInterruptCheckSeconds; true means stop. The bindings install one that asks Python for pending
// signals.
using InterruptCheck = bool (*)();
void set_interrupt_check(InterruptCheck check);
constexpr double kInterruptCheckSeconds = 0.05;

// One call into kernelkit (the bindings hold one for each call that releases the GIL): the
// interrupt check's clock runs from its start across every parallel loop it makes, so that a call
// made of many loops shorter than kInterruptCheckSeconds (a convolution's passes of images) is
// checked as often as one long loop. Outside one, each loop starts the clock afresh.
class InterruptibleCall {
 public:
  InterruptibleCall();
  ~InterruptibleCall();
  InterruptibleCall(const InterruptibleCall&) = delete;
  InterruptibleCall& operator=(const InterruptibleCall&) = delete;
};

// The index of the calling thread in the parallel call it runs tasks of, in [0, threads); 0 outside
// one (scratch is indexed by it).
int thread_index();

namespace detail {
using TaskRange = void (*)(void* context, std::int64_t begin, std::int64_t end);
void run_parallel(std::int64_t tasks, int threads, std::int64_t chunk, TaskRange body, void* context);
}  // namespace detail

// body(task) for every task in [0, tasks), on up to `threads` threads, the caller included. Thread
// i runs the i-th of `threads` contiguous shares of the tasks in order, then helps with what the
// others have not reached, `chunk` tasks at a time (larger chunks for cheap tasks): a static
// schedule that balances itself. body must not throw.
template <class Body>
void parallel_for(std::int64_t tasks, int threads, const Body& body, std::int64_t chunk = 1) {
  auto range = [](void* context, std::int64_t begin, std::int64_t end) {
    const Body& f = *static_cast<const Body*>(context);
    for (std::int64_t t = begin; t < end; ++t) f(t);
  };
  detail::run_parallel(tasks, threads, chunk, range, const_cast<void*>(static_cast<const void*>(&body)));
}

// body(index) once on each of `threads` threads at the same time (index = thread_index()), as far
// as the pool can start them: for measurements such as the FMA peak.
template <class Body>
void on_each_thread(int threads, const Body& body) {
  parallel_for(threads, threads, [&](std::int64_t) { body(thread_index()); });
}

}  // namespace kk
