#include "kernelkit/threads.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace kk {

#if defined(_OPENMP)
int max_threads() { return omp_get_max_threads(); }
void set_max_threads(int n) { omp_set_num_threads(n); }
int available_cores() { return omp_get_num_procs(); }
bool openmp_enabled() { return true; }
int openmp_version() { return _OPENMP; }
#if defined(__clang__)
const char* openmp_runtime() { return "libomp"; }
#elif defined(__GNUC__)
const char* openmp_runtime() { return "libgomp"; }
#else
const char* openmp_runtime() { return "unknown"; }
#endif
#else
int max_threads() { return 1; }
void set_max_threads(int) {}
int available_cores() { return 1; }
bool openmp_enabled() { return false; }
int openmp_version() { return 0; }
const char* openmp_runtime() { return "none"; }
#endif

}  // namespace kk
