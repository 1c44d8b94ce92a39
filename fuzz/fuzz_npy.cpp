// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: .npy bytes -> the CLI's readers of a .npy file: read_npy (labels, folders of
// .npy samples, whole inputs), read_labels (--labels), and open_dataset (--data / --calib x.npy:
// header parse, then rows read on demand with pread) followed by the calibration data check and a
// batch. Seeds: .npy files written from real data (.ci/fuzz).
#include <cstdint>
#include <string>

#include "fuzz/data_checks.h"
#include "fuzz/fuzz_common.h"
#include "io/npy.h"

using namespace qtool;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_dir() / "data.npy";
  fuzz::write_bytes(path, data, size);
  fuzz::expect_only_input_errors([&] { (void)read_npy(path); });
  fuzz::expect_only_input_errors([&] { (void)read_labels(path); });
  fuzz::expect_only_input_errors([&] {
    const NpyHeader h = parse_npy_header(std::string(reinterpret_cast<const char*>(data), size), path.string());
    auto ds = open_dataset(path, {fuzz::input_like("x", h.dtype, h.shape)});
    fuzz::serve_some(*ds);
  });
  return 0;
}
