// The entry points of one instruction set, gathered into its dispatch table.
#include "kernelkit/dispatch.hpp"

#define KK_STR2(x) #x
#define KK_STR(x) KK_STR2(x)

namespace kk {
namespace KK_ISA {

void fill_gram_entries(KernelTable& table);
void fill_gram_sum_entries(KernelTable& table);
void fill_math_entries(KernelTable& table);
void fill_conv_entries(KernelTable& table);
void fill_conv_winograd_entries(KernelTable& table);
void fill_depthwise_entries(KernelTable& table);
void fill_conv_direct_entries(KernelTable& table);
void fill_filter_entries(KernelTable& table);
void fill_pool_entries(KernelTable& table);

namespace {
KernelTable build_table() {
  KernelTable table{};
  table.isa = KK_STR(KK_ISA);
#if defined(__AVX512F__)
  table.vector_bytes = 64;
#elif defined(__AVX2__)
  table.vector_bytes = 32;
#else
  table.vector_bytes = 16;
#endif
  fill_gram_entries(table);
  fill_gram_sum_entries(table);
  fill_math_entries(table);
  fill_conv_entries(table);
  fill_conv_winograd_entries(table);
  fill_depthwise_entries(table);
  fill_conv_direct_entries(table);
  fill_filter_entries(table);
  fill_pool_entries(table);
  return table;
}
}  // namespace

const KernelTable& kernel_table() {
  static const KernelTable table = build_table();
  return table;
}

}  // namespace KK_ISA
}  // namespace kk
