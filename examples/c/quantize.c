/* SPDX-License-Identifier: Apache-2.0 */
/* Quantizes a model to int8 through qtool's C API, with calibration samples handed over from
 * memory, and prints the size before and after.
 * usage: quantize_c MODEL.onnx CALIB.npy OUT.onnx   (CALIB: float32 [N, ...], via qt_data_open) */
#include <stdio.h>

#include <qtool.h>

static int fail(const char* what) {
  fprintf(stderr, "%s: %s\n", what, qt_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL.onnx CALIB.npy OUT.onnx\n", argv[0]);
    return 2;
  }
  qt_model *model = NULL, *q = NULL;
  qt_data* calib = NULL;
  qt_quantize_options opts;
  qt_size_report before, after;
  int rc = 0;
  if (qt_model_load(argv[1], &model) != QT_STATUS_OK) return fail("load");
  if (qt_data_open(argv[2], model, NULL, &calib) != QT_STATUS_OK) {
    rc = fail("calibration data");
    goto done;
  }
  qt_quantize_options_init(&opts); /* int8 weights per channel, int8 activations, mse observer */
  if (qt_quantize(model, &opts, calib, &q) != QT_STATUS_OK || qt_model_save(q, argv[3]) != QT_STATUS_OK) {
    rc = fail("quantize");
    goto done;
  }
  qt_size(model, &before);
  qt_size(q, &after);
  printf("qtool %s: %lld -> %lld bytes, %.2f -> %.2f bits per weight\n", qt_version(), (long long)before.file_bytes,
         (long long)after.file_bytes, before.bits_per_weight, after.bits_per_weight);
done:
  qt_model_free(q);
  qt_data_free(calib);
  qt_model_free(model);
  return rc;
}
