/* SPDX-License-Identifier: Apache-2.0 */
/* qtool C API (C99). A thin, stable boundary over the qtool library for other languages (the
 * Python package in python/ loads it with ctypes).
 *
 * Conventions (after zstd's API):
 *  - Opaque handles, created by qt_*_create / qt_*_load / qt_quantize / qt_prune and released by
 *    the matching qt_*_free, which accepts NULL.
 *  - Every function that can fail returns a qt_status; the numeric values never change.
 *  - On failure qt_last_error() returns a message naming the file, node or tensor; the message is
 *    per thread and stays valid until the next qtool call on that thread.
 *  - No C++ exception crosses this boundary.
 *  - Handles are not thread-safe; different handles may be used from different threads.
 *  - Arrays are C-contiguous (row-major) float32 unless stated otherwise; shapes are int64.
 */
#ifndef QTOOL_H
#define QTOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define QT_API __attribute__((visibility("default")))
#else
#define QT_API
#endif

#define QTOOL_VERSION_MAJOR 0
#define QTOOL_VERSION_MINOR 2
#define QTOOL_VERSION_PATCH 0

typedef enum {
  QT_STATUS_OK = 0,
  QT_STATUS_INVALID_ARGUMENT = 1, /* NULL where a value is required, wrong dtype/shape/size, bad option */
  QT_STATUS_BAD_INPUT = 2,        /* unreadable or invalid file / model / data (the CLI's exit code 2) */
  QT_STATUS_NOT_FOUND = 3,        /* no tensor / mask / input with that name */
  QT_STATUS_FAILURE = 4,          /* anything else (internal error) */
  QT_STATUS_OUT_OF_MEMORY = 5
} qt_status;

/* "ok", "invalid argument", ...; never NULL. */
QT_API const char* qt_status_string(qt_status status);
/* Message of the last failure on this thread ("" when none). */
QT_API const char* qt_last_error(void);
/* "0.2.0" */
QT_API const char* qt_version(void);

/* ---- models ---- */
typedef struct qt_model qt_model;

QT_API qt_status qt_model_load(const char* path, qt_model** out);
/* From serialized ONNX bytes (e.g. torch.onnx.export into a buffer); the bytes are copied. */
QT_API qt_status qt_model_load_from_memory(const void* data, size_t size, qt_model** out);
/* Atomic write (temporary file + rename); refuses to overwrite the file the model was loaded from. */
QT_API qt_status qt_model_save(const qt_model* model, const char* path);
/* Serialized bytes in a buffer owned by qtool: release with qt_buffer_free. */
QT_API qt_status qt_model_serialize(const qt_model* model, void** data, size_t* size);
QT_API void qt_buffer_free(void* data);
QT_API void qt_model_free(qt_model* model);

/* Tensor (initializer) access, e.g. to read weights back for fine-tuning. rank/shape: shape must
 * hold 8 entries; *rank receives the rank. qt_model_get_tensor copies `count` float32 values
 * (count must equal the element count; non-float tensors are converted). Reading also accepts a
 * value computed from initializers only (a weight behind Cast, e.g. bf16 storage, or behind
 * DequantizeLinear); qt_model_set_tensor replaces float32 initializers only. QT_STATUS_NOT_FOUND otherwise. */
QT_API qt_status qt_model_tensor_shape(const qt_model* model, const char* name, int64_t* shape, size_t* rank);
QT_API qt_status qt_model_get_tensor(const qt_model* model, const char* name, float* values, size_t count);
QT_API qt_status qt_model_set_tensor(qt_model* model, const char* name, const float* values, size_t count);
/* Pruning masks kept by qt_prune / qt_quantize with sparsity (uint8, 1 = kept, weight's shape). */
QT_API qt_status qt_model_get_mask(const qt_model* model, const char* weight, uint8_t* mask, size_t count);
/* Names of the tensors that have masks, comma separated, in a qtool-owned string valid until the
 * next call on this model. */
QT_API qt_status qt_model_mask_names(const qt_model* model, const char** names);

/* ---- data (calibration / evaluation) ---- */
typedef struct qt_data qt_data;

/* An empty in-memory data set; add batches with qt_data_add_batch. */
QT_API qt_status qt_data_create(qt_data** out);
/* Appends a batch [n, ...] for model input `input` (float32, copied). All inputs must get the same
 * number of samples. */
QT_API qt_status qt_data_add_batch(qt_data* data, const char* input, const float* values, const int64_t* shape, size_t rank);
/* A data set from files (.npy, .npz, folder of .npy or images) checked against the model's inputs.
 * options_json: image options as in the CLI, e.g. {"size": "320x240", "mean": [127], "std": [128],
 * "scale": 1, "layout": "nchw", "bgr": false}; NULL or "" for defaults. */
QT_API qt_status qt_data_open(const char* path, const qt_model* model, const char* options_json, qt_data** out);
QT_API qt_status qt_data_size(const qt_data* data, int64_t* samples);
QT_API void qt_data_free(qt_data* data);

/* ---- compression ---- */
typedef struct {
  int bits;               /* 8 (default), 4, 2, 1 (binary) */
  int ternary;            /* 1: TWN ternary weights */
  const char* dtype;      /* NULL, "fp16" or "bf16" */
  int group_size;         /* 0 per channel, else 16/32/64/128 */
  int symmetric;          /* -1 auto (8-bit symmetric, below asymmetric), 0, 1 */
  int act_bits;           /* 0 auto (8 with 8-bit weights), 8, 32 (float) */
  const char* method;     /* observer: "mse" (default), "minmax", "percentile", "entropy" */
  const char* rounding;   /* "gptq" (default) or "nearest" */
  const char* format;     /* "qdq" (default) or "matmulnbits" */
  double sparsity;        /* 0: no pruning */
  const char* pattern;    /* "unstructured" (default), "N:M", "channel" */
} qt_quantize_options;

/* Fills the defaults above. */
QT_API void qt_quantize_options_init(qt_quantize_options* options);
/* Quantizes `model` into a new model. calib may be NULL (weights only, round to nearest). */
QT_API qt_status qt_quantize(const qt_model* model, const qt_quantize_options* options, qt_data* calib, qt_model** out);
/* Same with every CLI option reachable as JSON keys: bits, ternary, dtype, group_size, symmetric,
 * act_bits, act_type, method, percentile, rounding, format, exclude [..], op_types [..],
 * keep_first_last, layer_bits {name: bits}, sparsity, pattern, scope. NULL/"" = defaults. */
QT_API qt_status qt_quantize_json(const qt_model* model, const char* options_json, qt_data* calib, qt_model** out);
/* Prunes into a new model (masks available with qt_model_get_mask). options_json keys: sparsity,
 * pattern, scope, exclude [..], sparsity_map {name: s}. */
QT_API qt_status qt_prune(const qt_model* model, const char* options_json, qt_model** out);

/* ---- evaluation and size ---- */
typedef struct {
  int64_t samples;
  double top1;       /* fraction 0..1; -1 without labels */
  double agreement;  /* top-1 agreement with ref; -1 without ref */
  double sqnr_db;    /* output 0 vs ref; -1 without ref (+inf when identical) */
} qt_eval_result;

/* labels: n_labels int64 class ids (NULL / 0 for none); ref may be NULL. */
QT_API qt_status qt_evaluate(const qt_model* model, qt_data* data, const int64_t* labels, size_t n_labels,
                      const qt_model* ref, qt_eval_result* result);

typedef struct {
  int64_t file_bytes;      /* serialized size */
  int64_t zip_bytes;       /* after DEFLATE */
  int64_t parameters;      /* initializer elements */
  int64_t weight_params;   /* elements of Conv/Gemm/MatMul weights */
  int64_t weight_bytes;    /* stored bytes of those weights (codes, scales, zero points) */
  double bits_per_weight;  /* 8 * weight_bytes / weight_params */
} qt_size_report;

QT_API qt_status qt_size(const qt_model* model, qt_size_report* report);

#ifdef __cplusplus
}
#endif

#endif /* QTOOL_H */
