// SPDX-License-Identifier: Apache-2.0
// bench_executor MODEL BATCH SECONDS [--reference] [--profile]: times qtool's executor on one model.
// Input: uniform [0, 1) float32 (or the input's integer type, 0..9) of the model's input shapes
// with the first extent set to BATCH (symbolic extents = 1). Runs once to warm up (primitive
// creation, weight reorders), then repeats whole runs for about SECONDS of wall time.
// Prints one JSON line: {"batch", "runs", "ms_per_run", "images_per_s", "compile_s", "first_run_s"}.
// --profile: also times every step of the timed runs (runtime/step_profile.h) and prints the
// summary to stderr (the per-step clock reads cost a little throughput).
// Used by bench/bench_executor.py (threads: OMP_NUM_THREADS, as oneDNN reads it).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "io/model.h"
#include "runtime/allocator_policy.h"
#include "runtime/executor.h"
#include "runtime/step_profile.h"

using namespace qtool;

int main(int argc, char** argv) {
  qtool::configure_process_allocator();  // as the qtool executable runs the executor
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_executor MODEL BATCH SECONDS [--reference] [--profile [--top N]]\n");
    return 2;
  }
  try {
    const int64_t batch = std::atoll(argv[2]);
    const double seconds = std::atof(argv[3]);
    ExecutorOptions opt;
    bool profile = false;
    size_t top = 15;
    for (int i = 4; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--reference") opt.reference_only = true;
      else if (flag == "--profile") profile = true;
      else if (flag == "--top" && i + 1 < argc) top = static_cast<size_t>(std::max(0, std::atoi(argv[++i])));
      else throw std::invalid_argument("unknown flag " + flag);
    }
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    Model model = load_model(argv[1]);
    Executor exec(model, opt);
    const double compile_s = std::chrono::duration<double>(clock::now() - t0).count();
    TensorMap feeds;
    std::mt19937 rng(0);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (const auto& spec : model_input_specs(model)) {
      Shape s = spec.shape;
      for (auto& d : s) d = d < 0 ? 1 : d;
      if (!s.empty()) s[0] = batch;
      Tensor t(spec.dtype == DType::kUndefined ? DType::kFloat : spec.dtype, s);
      if (t.dtype() == DType::kFloat) {
        float* p = t.data<float>();
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
      } else {
        std::vector<double> v(static_cast<size_t>(t.numel()));
        for (auto& x : v) x = std::floor(u(rng) * 10);
        t = Tensor::from(s, v).cast(t.dtype());
      }
      feeds[spec.name] = t;
    }
    t0 = clock::now();
    exec.run(feeds);
    const double first_s = std::chrono::duration<double>(clock::now() - t0).count();
    if (profile) exec.set_profiling(true);
    int runs = 0;
    t0 = clock::now();
    double el = 0;
    do {
      exec.run(feeds);
      ++runs;
      el = std::chrono::duration<double>(clock::now() - t0).count();
    } while (el < seconds);
    const double ms = 1000 * el / runs;
    std::printf("{\"batch\": %lld, \"runs\": %d, \"ms_per_run\": %.3f, \"images_per_s\": %.2f, \"compile_s\": %.3f, "
                "\"first_run_s\": %.3f}\n",
                static_cast<long long>(batch), runs, ms, 1000.0 * batch / ms, compile_s, first_s);
    if (profile) std::fputs(profile_summary(exec.profile(), top).c_str(), stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_executor: %s\n", e.what());
    return 1;
  }
  return 0;
}
