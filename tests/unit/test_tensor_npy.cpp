#include <gtest/gtest.h>

#include "io/npy.h"

TEST(Npy, RoundTrip) {
  auto t = qtool::Tensor::from<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto back = qtool::parse_npy(qtool::serialize_npy(t), "mem");
  EXPECT_EQ(back.shape(), t.shape());
  EXPECT_EQ(back.to_floats(), t.to_floats());
}
