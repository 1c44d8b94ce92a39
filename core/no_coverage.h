// SPDX-License-Identifier: Apache-2.0
// QTOOL_NO_COVERAGE: leaves a function out of SanitizerCoverage (the fuzzing builds' edge and
// comparison feedback; clang >= 13, https://clang.llvm.org/docs/SanitizerCoverage.html "Disabling
// instrumentation with __attribute__((no_sanitize("coverage")))"). For straight pixel or element
// loops whose every comparison would otherwise call the coverage runtime per element: a 50
// megapixel image then costs seconds of callbacks and no coverage worth having. AddressSanitizer
// and UBSan still check every access in such a function; release builds are unaffected.
#pragma once

#if defined(__clang__) && __clang_major__ >= 13
#define QTOOL_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define QTOOL_NO_COVERAGE
#endif
