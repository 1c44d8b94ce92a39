// SPDX-License-Identifier: Apache-2.0
// A readable summary of Executor::profile(): time per op type (with its share of the total and
// how many steps read or wrote runtime layouts) and the slowest steps. Used by `qtool run
// --profile` and bench/bench_executor --profile.
#pragma once
#include <string>
#include <vector>

#include "runtime/executor.h"

namespace qtool {

// Milliseconds per run (total seconds / calls of the first step). `top_steps` slowest steps
// are listed after the per-op-type table. Empty profile: an empty string.
std::string profile_summary(const std::vector<StepProfile>& profile, size_t top_steps = 15);

}  // namespace qtool
