// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: .npz bytes -> read_npz (libzip from memory: member sizes checked against the
// compressed bytes before anything is allocated, each member parsed as .npy), then open_dataset
// (--data / --calib x.npz) with one model input declared like each array, the calibration data
// check and a batch. Seeds: .npz files written from real data (.ci/fuzz).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/data_checks.h"
#include "fuzz/fuzz_common.h"
#include "io/npy.h"

using namespace qtool;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_dir() / "data.npz";
  fuzz::write_bytes(path, data, size);
  fuzz::expect_only_input_errors([&] {
    const auto arrays = read_npz(path);
    std::vector<InputSpec> inputs;
    for (const auto& [name, t] : arrays) inputs.push_back(fuzz::input_like(name, t.dtype(), t.shape()));
    auto ds = open_dataset(path, inputs);
    fuzz::serve_some(*ds);
  });
  return 0;
}
