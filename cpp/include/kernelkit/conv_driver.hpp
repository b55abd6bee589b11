// The prepared convolution: weights validated once, packed once per (SIMD path, algorithm) into the
// layout that algorithm's kernels stream, and run for any input shape by its plan.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernelkit/conv.hpp"
#include "kernelkit/conv_plan.hpp"

namespace kk {

template <class T>
class PreparedConv {
 public:
  // `weights` (and `bias`, (O,) or nullptr) must stay alive and unchanged as long as this object:
  // they are packed again when a later call runs another SIMD path or algorithm. single_use: the
  // object serves one call (conv2d), so that its plans count the packing as part of the call.
  PreparedConv(const T* weights, bool hwio, const T* bias, std::int64_t groups, std::int64_t o, std::int64_t cg,
               std::int64_t kh, std::int64_t kw, Activation activation, double alpha, bool single_use = false);

  // Throws std::invalid_argument when s does not match the weights or has no output.
  void validate(const ConvShape& s) const;
  ConvPlan plan(const ConvShape& s, int n_threads) const;
  // out = act(conv(x, weights) + bias) for contiguous x and out in s's layout. Thread-safe.
  void run(const ConvShape& s, const T* x, T* out, int n_threads) const;
  // How many times weights were packed (once per SIMD path and algorithm used).
  std::int64_t packings() const;

 private:
  struct Packed;
  std::shared_ptr<const Packed> packed_for(const KernelTable& table, ConvAlgorithm algorithm, bool nhwc,
                                           std::int64_t panel_cols, int n_threads) const;
  void pack_bias(Packed& packed) const;
  void pack_winograd(Packed& packed, int n_threads) const;

  WeightView<T> weights_;
  const T* bias_;
  std::int64_t groups_, o_, cg_, kh_, kw_;
  Activation activation_;
  T alpha_;
  bool finite_weights_, single_use_;
  mutable std::mutex mutex_;
  mutable std::vector<std::shared_ptr<const Packed>> packed_;
};

}  // namespace kk
