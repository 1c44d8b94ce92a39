// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: calibration table bytes (JSON, calib/calibration_table.h) -> what `qtool
// quantize --calib-table` does: CalibrationTable::load (file, JSON parse, format checks), then the
// table applied to a small model (fuzz/tiny_model.h) through compress() with int8 weights and
// activations taken from the table. Seeds: tables `qtool calibrate` writes (.ci/fuzz).
#include <cstdint>

#include "calib/calibration_table.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/tiny_model.h"
#include "quant/compress.h"

using namespace qtool;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::write_tiny_model_if_asked();
  fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Model model = fuzz::tiny_model();
  const auto path = fuzz::scratch_dir() / "table.json";
  fuzz::write_bytes(path, data, size);
  fuzz::expect_only_input_errors([&] {
    const CalibrationTable table = CalibrationTable::load(path);
    CompressOptions opts;
    opts.table = &table;
    opts.act_bits = 8;
    validate(opts);
    (void)compress(model, opts, nullptr);
  });
  return 0;
}
