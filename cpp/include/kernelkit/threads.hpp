// Thread-count helpers over the OpenMP runtime, which sets the default count (OMP_NUM_THREADS,
// threadpoolctl); the threads themselves are kernelkit's own pool (parallel.hpp). The Python layer
// resolves n_threads=None/negative before calling.
#pragma once

namespace kk {

int max_threads();         // omp_get_max_threads() of the calling thread
void set_max_threads(int n);
int available_cores();     // omp_get_num_procs()
bool openmp_enabled();
const char* openmp_runtime();
int openmp_version();      // _OPENMP (yyyymm), 0 without OpenMP

}  // namespace kk
