// The one loop nest behind every CPU elementwise kernel: walks N operands that share a shape
// (each with its own strides), merging dims that are contiguous in all of them so the innermost
// loop is as long as possible, and hands runs of that innermost dim to a kernel body the
// compiler can vectorize. Large walks are split across threads.
#pragma once

#include <array>
#include <cstdint>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/coalesce.h>
#include <tapegrad/kernels/cpu/parallel.h>

namespace tapegrad::kernels::cpu {

// Calls body(count, offsets, inner_strides) for runs of the innermost dim, covering outer
// indices [outer_begin, outer_end) of the layout's outer dims.
template <int N, class Body>
void walk_outer_range(const StridedLayout<N>& layout, std::int64_t outer_begin, std::int64_t outer_end,
                      Body& body) {
  const int inner = layout.ndim - 1;
  std::int64_t coords[kMaxDims] = {};
  std::array<std::int64_t, N> offsets{};
  std::int64_t rest = outer_begin;
  for (int d = inner - 1; d >= 0; --d) {
    coords[d] = rest % layout.sizes[d];
    rest /= layout.sizes[d];
    for (int k = 0; k < N; ++k) offsets[k] += coords[d] * layout.strides[k][d];
  }
  std::array<std::int64_t, N> inner_strides;
  for (int k = 0; k < N; ++k) inner_strides[k] = layout.strides[k][inner];
  for (std::int64_t outer = outer_begin; outer < outer_end; ++outer) {
    body(layout.sizes[inner], offsets, inner_strides);
    for (int d = inner - 1; d >= 0; --d) {  // odometer step
      for (int k = 0; k < N; ++k) offsets[k] += layout.strides[k][d];
      if (++coords[d] < layout.sizes[d]) break;
      for (int k = 0; k < N; ++k) offsets[k] -= coords[d] * layout.strides[k][d];
      coords[d] = 0;
    }
  }
}

// How a walk may be split across threads.
enum class Split {
  None,       // outputs alias (reductions): one thread walks everything
  Anywhere,   // every element is independent
  OuterOnly,  // runs of the innermost dim alias (a scatter along it): each stays on one thread
};

// Walks every element of `shape` for N strided operands, split across threads as `split` allows.
// `units_per_element` is an element's cost in parallel.h's units, for bodies heavier than a plain
// elementwise op.
template <int N, class Body>
void for_each_strided(const Shape& shape, const std::array<const Strides*, N>& strides, Split split, Body&& body,
                      std::int64_t units_per_element = 1) {
  const std::int64_t total = numel_of(shape);
  if (total == 0) return;
  const bool parallel = worth_parallel(total * units_per_element);
  if ((split != Split::Anywhere || !parallel) && all_contiguous<N>(shape, strides)) {  // the common small case: skip coalescing
    std::array<std::int64_t, N> offsets{}, unit_strides;
    unit_strides.fill(1);
    body(total, offsets, unit_strides);
    return;
  }
  const StridedLayout<N> layout = coalesce<N>(shape, strides);
  const std::int64_t inner_size = layout.sizes[layout.ndim - 1];
  const std::int64_t outer_count = total / inner_size;
  if (split == Split::None || !parallel || (split == Split::OuterOnly && outer_count == 1)) {
    walk_outer_range(layout, 0, outer_count, body);
    return;
  }
  if (outer_count == 1) {  // one long run: split the run itself
    parallel_for(inner_size, [&](std::int64_t begin, std::int64_t end) {
      std::array<std::int64_t, N> offsets, inner_strides;
      for (int k = 0; k < N; ++k) {
        inner_strides[k] = layout.strides[k][0];
        offsets[k] = begin * inner_strides[k];
      }
      body(end - begin, offsets, inner_strides);
    });
    return;
  }
  parallel_for(outer_count, [&](std::int64_t begin, std::int64_t end) {
    walk_outer_range(layout, begin, end, body);
  });
}

}  // namespace tapegrad::kernels::cpu
