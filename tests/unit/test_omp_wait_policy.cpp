// SPDX-License-Identifier: Apache-2.0
// The qtool executable's OpenMP wait policy (tools/omp_wait_policy.h): passive waiting on busy
// cores, a short spin on idle ones.
#include <gtest/gtest.h>

#include "tools/omp_wait_policy.h"

using qtool::cli::omp_wait_setting;

TEST(OmpWaitPolicy, SpinsOnlyWhenTheCoresAreFree) {
  using Setting = std::pair<std::string, std::string>;
  const Setting passive{"OMP_WAIT_POLICY", "PASSIVE"}, spin{"GOMP_SPINCOUNT", "30000"};
  EXPECT_EQ(omp_wait_setting(0, 0.3, 2), spin);
  EXPECT_EQ(omp_wait_setting(1, 1.9, 2), spin);      // one other runnable thread: a core is left
  EXPECT_EQ(omp_wait_setting(2, 0.5, 2), passive);   // both cores taken right now
  EXPECT_EQ(omp_wait_setting(0, 2.5, 2), passive);   // saturated over the last minute
  EXPECT_EQ(omp_wait_setting(15, 17.0, 64), spin);   // a big machine with load 17 has room
  EXPECT_EQ(omp_wait_setting(-1, 0.1, 8), passive);  // unreadable: play safe
  EXPECT_EQ(omp_wait_setting(0, -1, 8), passive);
}
