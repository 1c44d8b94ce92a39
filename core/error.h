// SPDX-License-Identifier: Apache-2.0
// qtool error model: every failure inside the library is a qtool::Error (or a subclass).
// The CLI maps InputError to exit code 2 (bad input: file, model, data, option) and every
// other Error to exit code 1 (internal failure). Messages name the file, node or tensor.
#pragma once
#include <stdexcept>
#include <string>

namespace qtool {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Bad input from the user: unreadable or invalid model, mismatched data, bad option value.
class InputError : public Error {
 public:
  explicit InputError(const std::string& msg) : Error(msg) {}
};

// A tensor allocation above the thread's AllocationCap (core/tensor.h).
class AllocationCapExceeded : public Error {
 public:
  explicit AllocationCapExceeded(const std::string& msg) : Error(msg) {}
};

// printf-free helper: concatenates streamable parts into one message.
std::string concat_message(std::initializer_list<std::string> parts);

}  // namespace qtool
