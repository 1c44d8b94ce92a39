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
  QT_STATUS_OUT_OF_MEMORY = 5,
  QT_STATUS_CALLBACK_FAILED = 6   /* a caller's callback (data source) returned an error */
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

/* ---- arrays (inputs of qt_data_source and qt_model_run, outputs of qt_model_run) ---- */
/* Element types: ONNX TensorProto.DataType values. */
#define QT_DTYPE_FLOAT32 1
#define QT_DTYPE_UINT8 2
#define QT_DTYPE_INT8 3
#define QT_DTYPE_UINT16 4
#define QT_DTYPE_INT16 5
#define QT_DTYPE_INT32 6
#define QT_DTYPE_INT64 7
#define QT_DTYPE_BOOL 9
#define QT_DTYPE_FLOAT16 10
#define QT_DTYPE_FLOAT64 11
#define QT_DTYPE_UINT32 12
#define QT_DTYPE_UINT64 13

/* A named C-contiguous array. Who owns name/values/shape is stated by each function using it. */
typedef struct {
  const char* name;      /* model input (or output) name */
  int32_t dtype;         /* QT_DTYPE_* */
  const void* values;    /* C-contiguous elements; may be NULL when the array has no element */
  const int64_t* shape;  /* rank extents */
  size_t rank;
} qt_array;

/* ---- data (calibration / evaluation) ---- */
typedef struct qt_data qt_data;

/* An empty in-memory data set; add batches with qt_data_add_batch. */
QT_API qt_status qt_data_create(qt_data** out);
/* Appends a batch [n, ...] for model input `input` (float32, copied). All inputs must get the same
 * number of samples. */
QT_API qt_status qt_data_add_batch(qt_data* data, const char* input, const float* values, const int64_t* shape, size_t rank);
/* A data set from files (.npy, .npz, folder of .npy or images) checked against the model's inputs.
 * options_json: the CLI's data options, e.g. {"size": "320x240", "mean": [127], "std": [128],
 * "scale": 1, "layout": "nchw", "bgr": false} (also resize_shorter, center_crop, letterbox,
 * pad_value, jpeg_fancy_upsampling), the sample selection {"offset": 0, "limit": -1, "sample":
 * "first" | "every-k" | "random", "seed": 0} (as --offset/--limit/--sample/--seed) and "whole":
 * true (every array fed whole, as --whole); NULL or "" for defaults. */
QT_API qt_status qt_data_open(const char* path, const qt_model* model, const char* options_json, qt_data** out);
/* Top-1 labels of the samples qt_data_open(data_path, model, options_json) serves, as the CLI's
 * --labels reads them: `labels` is a 1-D integer .npy (for the whole data set, or already for the
 * selection) or "folders" (class folders of an image folder). *labels_json: a JSON array of class
 * ids (release with qt_buffer_free). QT_ERR_INPUT when the counts do not fit. */
QT_API qt_status qt_labels_open(const char* labels, const char* data_path, const qt_model* model,
                                const char* options_json, char** labels_json);
QT_API qt_status qt_data_size(const qt_data* data, int64_t* samples);

/* A streaming data source: qtool pulls batches from the caller when it needs them, instead of
 * the caller copying a whole data set in up front (a PyTorch DataLoader, a generator of batches).
 *
 * Contract:
 *  - qtool reads the source in passes (calibration, GPTQ and evaluation each make one or more):
 *    before every pass it calls reset(user), then next(user, ...) until next returns 0.
 *    A pass must yield the same number of samples every time (the order may differ, but
 *    evaluation with labels needs the same order).
 *  - next fills *arrays with *count arrays, one per model input (name set), all with the
 *    sample axis first and the same number of samples (shape[0] >= 1), dtype and sample shape
 *    matching the model input (checked: QT_STATUS_BAD_INPUT naming the input). The memory stays
 *    owned by the source and must stay valid until the next call of reset/next; qtool copies it.
 *  - next returns 1 when it delivered a batch, 0 at the end of the pass, a negative value on
 *    failure; reset returns 0, or a negative value on failure. A failure ends the qtool call
 *    with QT_STATUS_CALLBACK_FAILED.
 *  - Callbacks run on the thread that made the qtool call, one at a time.
 *  - free_user (may be NULL) is called once with `user` when the qt_data is freed (also when
 *    qt_data_from_source itself fails).
 * samples: total samples per pass when known, else -1 and qtool counts them with one pass
 * before returning. Only what a consumer currently reads is held in memory (a source batch and
 * one qtool batch). */
typedef int (*qt_source_reset_fn)(void* user);
typedef int (*qt_source_next_fn)(void* user, const qt_array** arrays, size_t* count);
typedef void (*qt_source_free_fn)(void* user);
QT_API qt_status qt_data_from_source(qt_source_reset_fn reset, qt_source_next_fn next, qt_source_free_fn free_user,
                                     void* user, int64_t samples, qt_data** out);
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
 * act_bits, act_type, target, overflow_fix, keep_float_constants, skip_nonfinite, method, percentile, rounding, format, exclude [..], op_types [..],
 * keep_first_last, layer_bits {name: bits}, sparsity, pattern, scope, plan (path of a plan written
 * by `qtool auto` / qt_auto), calib_table (path of a calibration table), input_shapes
 * {input: [d0, ...]}. NULL/"" = defaults. Conflicting options (bits with dtype, ternary with
 * bits != 8, ...) are QT_STATUS_INVALID_ARGUMENT. */
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
  int64_t file_bytes;      /* serialized size, external data included */
  int64_t zip_bytes;       /* after DEFLATE; -1 for models over 256 MiB (not compressed in memory) */
  int64_t parameters;      /* initializer elements */
  int64_t weight_params;   /* elements of Conv/Gemm/MatMul weights */
  int64_t weight_bytes;    /* stored bytes of those weights (codes, scales, zero points) */
  double bits_per_weight;  /* 8 * weight_bytes / weight_params */
} qt_size_report;

QT_API qt_status qt_size(const qt_model* model, qt_size_report* report);

/* ---- running, analysis and logging ----
 * Functions that return text give a malloc'd, NUL-terminated UTF-8 string the caller releases
 * with qt_buffer_free; the JSON formats are those of the CLI's --json output. */

/* Inputs and outputs as JSON: {"inputs": [{"name", "dtype" (QT_DTYPE_*), "shape" (-1 =
 * symbolic)}], "outputs": [...], "opset", "nodes", "path"}. */
QT_API qt_status qt_model_info(const qt_model* model, char** json);

/* Runs the model once on `inputs` (one per model input, copied) in qtool's executor. */
typedef struct qt_values qt_values;
QT_API qt_status qt_model_run(qt_model* model, const qt_array* inputs, size_t n_inputs, qt_values** out);
QT_API qt_status qt_values_count(const qt_values* values, size_t* count);
/* The i-th output in graph order; name/values/shape are owned by `values`. */
QT_API qt_status qt_values_get(const qt_values* values, size_t index, qt_array* out);
QT_API void qt_values_free(qt_values* values);

/* Evaluation with every output: the JSON of `qtool eval --json` (samples, top1, ref_top1,
 * agreement, classifier (whether output 0 is classifier-shaped), outputs [{name, sqnr_db,
 * cosine}], min_sqnr_db, seconds). */
QT_API qt_status qt_evaluate_json(const qt_model* model, qt_data* data, const int64_t* labels, size_t n_labels,
                                  const qt_model* ref, char** json);
/* Activation ranges (the table `qtool calibrate` writes). options_json: method, percentile,
 * act_type. */
QT_API qt_status qt_calibrate(const qt_model* model, qt_data* calib, const char* options_json, char** table_json);
/* Per-layer sensitivity (`qtool sensitivity --json`). options_json: method, with_pruning. */
QT_API qt_status qt_sensitivity(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels,
                                size_t n_labels, const char* options_json, char** json);
/* Mixed precision (`qtool auto`): the best model and {"plan": <plan JSON>, "drop", "value",
 * "bytes", "within_budget", "log": [..]}. options_json: max_drop, target_size, exclude, method. */
QT_API qt_status qt_auto(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels, size_t n_labels,
                         const char* options_json, qt_model** out, char** json);
/* `qtool inspect --json`. */
QT_API qt_status qt_inspect(const qt_model* model, char** json);
/* Renders a sweep report (the report.json format of `qtool sweep`) as "text", "csv", "svg",
 * "html" or "json". */
QT_API qt_status qt_report_render(const char* report_json, const char* format, char** out);

/* Log messages (warnings, progress notes) go to stderr by default, warnings and errors only
 * (QTOOL_LOG=info|debug for more). With a callback, every message at `level` and above goes to
 * it instead: level 0 trace, 1 debug, 2 info, 3 warning, 4 error. The callback may be called
 * from any thread qtool uses, one call at a time; `message` is valid during the call only.
 * NULL restores stderr. */
typedef void (*qt_log_fn)(void* user, int level, const char* message);
QT_API void qt_set_log_callback(qt_log_fn callback, void* user, int level);

/* ---- threads ---- */
/* Threads the calling thread's qtool work may use (qtool's worker threads and oneDNN's OpenMP
 * team together), threads >= 1; a per-thread setting. Default: min(cores, OMP_NUM_THREADS). */
QT_API qt_status qt_set_threads(int threads);
/* Cores of this machine (std::thread::hardware_concurrency, at least 1). */
QT_API int qt_hardware_threads(void);

/* Writes every sample of `data` (after image decoding / normalization) as one .npz keyed by the
 * model's input names, so it can be shipped elsewhere and opened again with qt_data_open. */
QT_API qt_status qt_data_save_npz(qt_data* data, const qt_model* model, const char* path);

/* ---- search: sweeps and per-layer sensitivity, one unit of work per call ----
 * The units that `qtool sweep` / `qtool sensitivity` run on threads, exposed so that a scheduler
 * (python/qtool/distributed.py on Ray) can run each one anywhere and gather the results into the
 * same reports. All JSON out-parameters are qtool-owned NUL-terminated strings: release them with
 * qt_buffer_free. Rows and reports use the keys of report.json (eval/report.h). */

/* options_json: {"bits": [8,4], "sparsity": [0,0.5], "method": ["mse"]} (defaults as the CLI).
 * *configs_json: [{"id": "int4-s0.50", "bits": 4, "sparsity": 0.5, "method": "mse"}, ...] in
 * report order. QT_STATUS_BAD_INPUT for bits outside {8,4,2,1}, sparsity outside [0,1), an
 * unknown method. */
QT_API qt_status qt_sweep_configs(const char* options_json, char** configs_json);
/* The fp32 row of a sweep: file_bytes is the original model file's size. */
QT_API qt_status qt_sweep_fp32_row(const qt_model* model, int64_t file_bytes, qt_data* eval, const int64_t* labels,
                                   size_t n_labels, char** row_json);
/* One configuration (an element of qt_sweep_configs' list): compresses `model`, writes
 * <out_dir>/<id>.onnx, evaluates it against `model` and returns its row. fp32_row_json is
 * qt_sweep_fp32_row's. config_json may add "skip_nonfinite": true (the sweep's --skip-nonfinite:
 * calibration samples holding NaN/inf are dropped instead of failing). */
QT_API qt_status qt_sweep_run_config(const qt_model* model, const char* config_json, qt_data* calib, qt_data* eval,
                                     const int64_t* labels, size_t n_labels, const char* fp32_row_json,
                                     const char* out_dir, char** row_json);
/* Renders a report (report.json's content: {"model", "metric", "rows": [...]}, plus an optional
 * "sensitivity_html") with qtool's writers into <out_dir>/report.{json,csv,svg,html} (json_only:
 * report.json alone, for progress) and returns the terminal table in *text (may be NULL). */
QT_API qt_status qt_report_write(const char* report_json, const char* out_dir, int json_only, char** text);

/* Per-layer sensitivity. *info_json: {"layers": ["conv1", ...], "baseline": value,
 * "metric": "top1"|"sqnr_db"} for the weighted layers of `model` (baseline measured on eval). */
QT_API qt_status qt_sensitivity_layers(const qt_model* model, qt_data* eval, const int64_t* labels, size_t n_labels,
                                       char** info_json);
/* Probes one layer: options_json {"layer": index into the layers list, "baseline": value,
 * "method": "mse", "with_pruning": true}. *probe_json: one entry of the sensitivity JSON's
 * "layers" list (node, params, int8_delta, ...). */
QT_API qt_status qt_sensitivity_probe(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels,
                                      size_t n_labels, const char* options_json, char** probe_json);
/* Ranks probes and suggests excludes exactly as `qtool sensitivity`: input {"metric", "baseline",
 * "layers": [probe, ...]}; outputs (each may be NULL) the JSON, text and HTML renderings. */
QT_API qt_status qt_sensitivity_report(const char* probes_json, char** json, char** text, char** html);

/* Auto mixed precision as `qtool auto`. options_json: {"max_drop": 1.0, "target_size": 0,
 * "method": "mse", "exclude": [..], "sensitivity": {"metric", "baseline", "layers": [probe, ...]}}
 * where the optional sensitivity holds qt_sensitivity_probe results without pruning (measured
 * here when absent). The best model so far is written to out_path and its plan to plan_path as
 * the search goes. *result_json: {"bytes", "drop", "value", "within_budget", "int4": [layers],
 * "excluded": [layers], "log": [lines]}. */
QT_API qt_status qt_auto_search(const qt_model* model, qt_data* calib, qt_data* eval, const int64_t* labels, size_t n_labels,
                                const char* options_json, const char* out_path, const char* plan_path, char** result_json);

#ifdef __cplusplus
}
#endif

#endif /* QTOOL_H */
