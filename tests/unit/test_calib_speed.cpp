// SPDX-License-Identifier: Apache-2.0
// Streaming calibration (calib/observer_pool.h, calib/calibrate.cpp, calib/histogram.cpp):
// observers fed on worker threads give exactly the ranges of a serial run, errors name the tensor,
// the vectorised histogram bins like the scalar formula floor((x + R) * bins / 2R), and
// Executor::observe_values shows a value to the hook without keeping it in run()'s result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "calib/calibrate.h"
#include "calib/observer.h"
#include "calib/observer_pool.h"
#include "core/error.h"
#include "core/parallel.h"
#include "runtime/executor.h"
#include "test_util.h"

using namespace qtool;

namespace {
// A stream of tensors of varying size and scale, several per observer.
std::vector<std::pair<size_t, Tensor>> stream(size_t observers, int per, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::pair<size_t, Tensor>> out;
  for (int k = 0; k < per; ++k)
    for (size_t i = 0; i < observers; ++i) {
      const float s = 0.5f + static_cast<float>(k * observers + i) * 0.37f;  // ranges keep growing
      out.emplace_back(i, test::random_tensor({1 + static_cast<int64_t>(rng() % 5000)}, rng(), -s, 2 * s));
    }
  return out;
}
}  // namespace

TEST(ObserverPool, SameRangesAsSerial) {
  for (const char* method : {"minmax", "percentile", "entropy", "mse"}) {
    const size_t n = 7;
    auto items = stream(n, 6, 3);
    std::vector<std::unique_ptr<Observer>> serial, pooled;
    std::vector<Observer*> raw;
    for (size_t i = 0; i < n; ++i) {
      serial.push_back(make_observer(method));
      pooled.push_back(make_observer(method));
      raw.push_back(pooled.back().get());
    }
    for (auto& [i, t] : items) serial[i]->observe(t.data<float>(), t.numel());
    {
      // 3 workers and a 16 KiB queue limit: submit() blocks often, order per observer must hold.
      ObserverPool pool(raw, 3, 16 << 10);
      for (auto& [i, t] : items) pool.submit(i, t);
      pool.drain();
    }
    std::vector<std::unique_ptr<Observer>> inline_obs;  // no workers: observed by submit() itself
    std::vector<Observer*> inline_raw;
    for (size_t i = 0; i < n; ++i) {
      inline_obs.push_back(make_observer(method));
      inline_raw.push_back(inline_obs.back().get());
    }
    {
      ObserverPool pool(inline_raw, -1);
      for (auto& [i, t] : items) pool.submit(i, t);
      pool.drain();
    }
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(serial[i]->range().min, pooled[i]->range().min) << method << " observer " << i;
      EXPECT_EQ(serial[i]->range().max, pooled[i]->range().max) << method << " observer " << i;
      EXPECT_EQ(serial[i]->range().min, inline_obs[i]->range().min) << method << " observer " << i << " (inline)";
      EXPECT_EQ(serial[i]->range().max, inline_obs[i]->range().max) << method << " observer " << i << " (inline)";
    }
  }
}

TEST(ObserverPool, WithoutWorkersAnErrorIsThrownBySubmitWithItsIndex) {
  std::vector<std::unique_ptr<Observer>> obs;
  std::vector<Observer*> raw;
  for (int i = 0; i < 3; ++i) {
    obs.push_back(make_observer("mse"));
    raw.push_back(obs.back().get());
  }
  ObserverPool pool(raw, -1);
  pool.submit(0, test::random_tensor({100}, 1));
  Tensor bad = test::random_tensor({100}, 2);
  bad.data<float>()[5] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(pool.submit(2, bad), Error);
  EXPECT_TRUE(pool.failed());
  EXPECT_EQ(pool.failed_index(), 2u);
  EXPECT_THROW(pool.submit(1, test::random_tensor({10}, 3)), Error);
  EXPECT_THROW(pool.drain(), Error);
}

TEST(Histogram, CountsSplitOverAThreadTeamEqualOneThreads) {
  // 1.5M values (large enough to be split over 2 or 3 threads), added in three calls whose ranges
  // grow: every bin's count is the same as on one thread, exactly
  std::vector<Histogram> hs;
  const int saved = thread_budget();
  for (int threads : {1, 2, 3}) {
    set_thread_budget(threads);
    Histogram h(2048);
    for (int k = 0; k < 3; ++k) {
      Tensor t = test::random_tensor({500001}, 11 + k, -1.f - 3.f * k, 2.f + 5.f * k);
      h.add(t.data<float>(), t.numel());
    }
    hs.push_back(h);
  }
  set_thread_budget(saved);
  for (size_t i = 1; i < hs.size(); ++i) {
    ASSERT_EQ(hs[i].bins(), hs[0].bins());
    EXPECT_EQ(hs[i].total(), hs[0].total());
    for (int b = 0; b < hs[0].bins(); ++b) ASSERT_EQ(hs[i].counts()[b], hs[0].counts()[b]) << "bin " << b << ", team " << i + 1;
  }
}

TEST(ObserverPool, FirstErrorIsRethrownWithItsIndex) {
  std::vector<std::unique_ptr<Observer>> obs;
  std::vector<Observer*> raw;
  for (int i = 0; i < 4; ++i) {
    obs.push_back(make_observer(i % 2 ? "entropy" : "minmax"));
    raw.push_back(obs.back().get());
  }
  ObserverPool pool(raw, 2);
  pool.submit(0, test::random_tensor({100}, 1));
  Tensor bad = test::random_tensor({100}, 2);
  bad.data<float>()[37] = std::numeric_limits<float>::quiet_NaN();
  pool.submit(3, bad);
  EXPECT_THROW(pool.drain(), Error);
  EXPECT_TRUE(pool.failed());
  EXPECT_EQ(pool.failed_index(), 3u);
  EXPECT_THROW(pool.submit(1, test::random_tensor({10}, 3)), Error);  // later submits fail fast
}

TEST(Histogram, BinsMatchScalarFormula) {
  // Values spread over several growths of R; each lands where floor((x + R) * bins / 2R) says
  // (computed in double after all growth, checked away from bin edges).
  const int bins = 256;
  Histogram h(bins);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> all;
  for (int chunk = 0; chunk < 6; ++chunk) {
    std::vector<float> v(10007);  // odd length: the tail after the 4-way unrolled loop is used
    for (auto& x : v) x = d(rng) * static_cast<float>(1 << (2 * chunk));
    h.add(v.data(), static_cast<int64_t>(v.size()));
    all.insert(all.end(), v.begin(), v.end());
  }
  // Merged bins after growth are checked by mass only; exact binning is checked on the last chunk
  // added to a fresh histogram whose R is fixed first by one value just below h's final R.
  const double R = h.range();
  ASSERT_GE(R, 1024.0);
  std::vector<double> expect(bins, 0.0);
  Histogram last(bins);
  std::vector<float> big{static_cast<float>(R) * 0.999f};  // fixes R before the values arrive
  last.add(big.data(), 1);
  ASSERT_EQ(last.range(), R);
  expect[static_cast<size_t>(std::floor((big[0] + R) * bins / (2 * R)))] += 1;
  int checked = 0;
  std::vector<float> tail(all.end() - 10007, all.end());
  last.add(tail.data(), static_cast<int64_t>(tail.size()));
  for (float x : tail) {
    const double f = (x + R) * bins / (2 * R);
    expect[std::min(bins - 1, static_cast<int>(std::floor(f)))] += 1;
  }
  double total = 0;
  for (int b = 0; b < bins; ++b) {
    total += last.counts()[b];
    // A value within float rounding of an edge may fall either side: allow one per edge.
    EXPECT_NEAR(last.counts()[b], expect[b], 2.0) << "bin " << b;
    checked += expect[b] > 0;
  }
  EXPECT_EQ(total, 10008.0);
  EXPECT_GT(checked, 100);
  double mass = 0;
  for (double c : h.counts()) mass += c;
  EXPECT_EQ(mass, static_cast<double>(all.size()));
}

// The counters are 16-bit between flushes: one bin taking a million values in one call (a ReLU's
// zeros) must still count every one.
TEST(Histogram, OneBinTakesAMillionValuesInOneCall) {
  Histogram h(64);
  std::vector<float> v(1000003, 0.f);
  v[17] = 1.f;  // the range
  h.add(v.data(), static_cast<int64_t>(v.size()));
  const auto& c = h.counts();
  EXPECT_EQ(*std::max_element(c.begin(), c.end()), 1000002.0);
  double mass = 0;
  for (double x : c) mass += x;
  EXPECT_EQ(mass, 1000003.0);
}

TEST(Histogram, NonFiniteIsAnError) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    Histogram h(64);
    std::vector<float> v(5000, 0.5f);
    v[4321] = bad;  // in the second 4096-value block
    EXPECT_THROW(h.add(v.data(), static_cast<int64_t>(v.size())), NonFiniteValue) << bad;
    EXPECT_EQ(h.total(), 0.0);  // nothing was added
    auto mm = make_observer("minmax");
    EXPECT_THROW(mm->observe(v.data(), static_cast<int64_t>(v.size())), NonFiniteValue) << bad;
  }
}

namespace {
const char* kChain = R"(<ir_version: 7, opset_import: ["" : 13]>
  g (float[N,8] x) => (float[N,8] y) {
    a = MatMul(x, w1)
    r = Relu(a)
    l = Log(r)
    y = MatMul(l, w2)
  })";
}  // namespace

TEST(ObserveValues, HookSeesValueThatIsNotKept) {
  Model m = test::parse_model(kChain);
  m.set_initializer("w1", test::random_tensor({8, 8}, 4));
  m.set_initializer("w2", test::random_tensor({8, 8}, 5));
  Executor exec(m);
  exec.observe_values({"a", "r"});
  std::set<std::string> seen;
  exec.set_hook([&](const std::string& name, const Tensor&) { seen.insert(name); });
  TensorMap out = exec.run({{"x", test::random_tensor({3, 8}, 6)}});
  EXPECT_TRUE(seen.count("a"));
  EXPECT_TRUE(seen.count("r"));
  EXPECT_EQ(out.count("a"), 0u);  // observed, not kept
  EXPECT_EQ(out.count("r"), 0u);
  EXPECT_EQ(out.count("y"), 1u);
  EXPECT_THROW(exec.observe_values({"no_such_value"}), InputError);
}

TEST(Calibrate, PooledMatchesDirectObserversAndNamesBadTensor) {
  Model m = test::parse_model(kChain);
  m.set_initializer("w1", test::random_tensor({8, 8}, 4));
  m.set_initializer("w2", test::random_tensor({8, 8}, 5));
  Executor exec(m);
  Tensor x = test::random_tensor({40, 8}, 7);
  auto data = memory_dataset({{"x", x}}, exec.inputs(), "x");
  CalibrateOptions opts;
  opts.method = "minmax";
  opts.max_batch = 16;
  CalibrationTable t = calibrate(m, *data, {"x", "a", "r"}, opts);
  // Reference: the same values observed directly, whole set in one run.
  Executor ref(m);
  ref.keep_values({"a", "r"});
  TensorMap all = ref.run({{"x", x}});
  for (const char* name : {"x", "a", "r"}) {
    const Tensor& v = std::string(name) == "x" ? x : all.at(name);
    auto obs = make_observer("minmax");
    obs->observe(v.data<float>(), v.numel());
    ASSERT_TRUE(t.ranges.count(name)) << name;
    EXPECT_EQ(t.ranges.at(name).min, obs->range().min) << name;
    EXPECT_EQ(t.ranges.at(name).max, obs->range().max) << name;
  }
  // log(relu(a)) is -inf wherever a <= 0 and finite elsewhere: -inf alone is how attention masks
  // look, so 'l' stays float (no range) instead of failing.
  data = memory_dataset({{"x", x}}, exec.inputs(), "x");
  CalibrationTable tl = calibrate(m, *data, {"l"}, opts);
  EXPECT_FALSE(tl.ranges.count("l"));
  // y = l @ w2 mixes -inf with weights of both signs: NaN / +inf, bad input naming the tensor.
  data = memory_dataset({{"x", x}}, exec.inputs(), "x");
  try {
    calibrate(m, *data, {"y"}, opts);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
}

TEST(Observers, EntropyKeepsADistributionThatStartsAwayFromZero) {
  // A Sigmoid's output in EfficientNet-B0: every value in [0.24, 0.68]. With the candidates starting
  // at `levels` bins from zero, the first candidate past the minimum folded all the mass into one
  // bin (KL 0) and the range was [0, 0.2417]: every value clipped to one (5.98 dB output SQNR).
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.45f, 0.07f);
  std::vector<float> v(200000);
  for (auto& x : v) x = std::clamp(d(rng), 0.24f, 0.68f);
  auto obs = make_observer("entropy");
  for (size_t i = 0; i < v.size(); i += 65536)
    obs->observe(v.data() + i, static_cast<int64_t>(std::min<size_t>(65536, v.size() - i)));
  std::vector<float> sorted(v);
  std::sort(sorted.begin(), sorted.end());
  const Range r = obs->range();
  EXPECT_EQ(r.min, 0.f);
  EXPECT_GT(r.max, sorted[sorted.size() * 99 / 100]) << "the range must keep the body of the distribution";
  EXPECT_LE(r.max, 0.68f);
}

TEST(Observers, EntropyThresholdIgnoresTheZeroSpike) {
  // ReLU output: |N(0, 1)| plus many exact zeros. TensorRT-style entropy calibration (with
  // pytorch-quantization's bins[0] = bins[1]) must pick the same threshold however many zeros
  // there are, and keep the body of the half-normal (P(|x| > 2.5) is 1.2%).
  std::mt19937 rng(17);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> body(200000);
  for (auto& x : body) x = std::fabs(d(rng));
  float prev = -1.f;
  for (size_t zeros : {size_t{0}, size_t{200000}, size_t{800000}}) {
    std::vector<float> v(body);
    v.insert(v.end(), zeros, 0.f);
    std::shuffle(v.begin(), v.end(), rng);
    auto obs = make_observer("entropy");
    for (size_t i = 0; i < v.size(); i += 65536)
      obs->observe(v.data() + i, static_cast<int64_t>(std::min<size_t>(65536, v.size() - i)));
    const Range r = obs->range();
    EXPECT_EQ(r.min, 0.f);
    EXPECT_GT(r.max, 2.5f) << zeros << " zeros";
    EXPECT_LT(r.max, *std::max_element(body.begin(), body.end())) << zeros << " zeros";
    if (prev >= 0) EXPECT_FLOAT_EQ(r.max, prev) << zeros << " zeros";
    prev = r.max;
  }
}
