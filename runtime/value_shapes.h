// SPDX-License-Identifier: Apache-2.0
// Shapes of every value of a model, for passes that need shapes the file does not state (opset
// upgrade adapters, channel surgery through Flatten). The model runs once on zero-filled inputs of
// *concrete* shapes: `input_shapes` (name -> shape: --input-shape, or the calibration data's
// shapes), else the shapes the model declares. A symbolic extent with no override is an InputError
// naming the input and the option to pass (qtool never guesses an extent: an OCR model given a
// 1x1 image fails where a real image works).
#pragma once
#include <map>
#include <string>

#include "io/model.h"
#include "runtime/executor.h"

namespace qtool {

using InputShapes = std::map<std::string, Shape>;

// Concrete shape of every real input, or InputError "<file>: input 'x' has symbolic extents
// [N,3,?,?]; pass --input-shape x:1,3,48,320 ...".
InputShapes concrete_input_shapes(const Model& model, const InputShapes& overrides);
// dtype and shape of every tensor value in one run on zeros of those shapes.
std::map<std::string, std::pair<DType, Shape>> value_shapes(const Model& model, const InputShapes& overrides);
// Parses "name:d0,d1,..." (several separated by ';' or given repeatedly); InputError when malformed.
InputShapes parse_input_shapes(const std::vector<std::string>& specs);

}  // namespace qtool
