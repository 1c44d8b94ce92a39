// SPDX-License-Identifier: Apache-2.0
// A checked convolution geometry (convpool::ConvGeom) in oneDNN's terms: padding, strides,
// dilations (oneDNN counts dilation from 0) and the weight dims with the group axis split out
// ([G, M/G, C/G, k...] for group > 1). Shared by the float, QLinearConv and QDQ convolutions.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/kernels/conv_pool_common.h"

namespace qtool::convpool {

struct DnnlConvDims {
  dnnl::memory::dims pad_l, pad_r, strides, dilates;
  Shape weights;  // w's shape, grouped as oneDNN wants it
};

inline DnnlConvDims dnnl_conv_dims(const ConvGeom& g, const Shape& w_shape) {
  const size_t sp = g.axes.size();
  DnnlConvDims d{dnnl::memory::dims(sp), dnnl::memory::dims(sp), dnnl::memory::dims(sp), dnnl::memory::dims(sp),
                 w_shape};
  for (size_t i = 0; i < sp; ++i) {
    d.pad_l[i] = g.axes[i].pad_b;
    d.pad_r[i] = g.axes[i].pad_e;
    d.strides[i] = g.axes[i].stride;
    d.dilates[i] = g.axes[i].dil - 1;
  }
  if (g.group > 1) {
    d.weights = {g.group, g.cout / g.group};
    for (size_t i = 1; i < w_shape.size(); ++i) d.weights.push_back(w_shape[i]);
  }
  return d;
}

}  // namespace qtool::convpool
