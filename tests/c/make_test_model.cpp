// SPDX-License-Identifier: Apache-2.0
// Writes a small MLP (x [N,16] -> Gemm 32 -> Relu -> Gemm 4 -> y) with seeded weights for the C
// API test (tests/c/test_capi.c), which cannot build ONNX models itself.
#include "../unit/test_util.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  using namespace qtool;
  Model m = test::parse_model(R"(<ir_version: 8, opset_import: ["" : 13]>
    g (float[N,16] x) => (float[N,4] y) {
      h = Gemm<transB = 1>(x, w1, b1)
      r = Relu(h)
      y = Gemm<transB = 1>(r, w2, b2)
    })");
  m.graph().mutable_node(0)->set_name("fc1");
  m.graph().mutable_node(2)->set_name("fc2");
  m.set_initializer("w1", test::random_tensor({32, 16}, 1, -0.5f, 0.5f));
  m.set_initializer("b1", test::random_tensor({32}, 2, -0.1f, 0.1f));
  m.set_initializer("w2", test::random_tensor({4, 32}, 3, -0.5f, 0.5f));
  m.set_initializer("b2", test::random_tensor({4}, 4, -0.1f, 0.1f));
  save_model(m, argv[1]);
  return 0;
}
