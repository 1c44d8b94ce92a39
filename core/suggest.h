// SPDX-License-Identifier: Apache-2.0
// Helpers for error messages about names (layers, inputs, options): the closest known names by
// Damerau-Levenshtein (optimal string alignment) distance, and a short list of valid names.
#pragma once
#include <string>
#include <vector>

namespace qtool {

// Edit distance (insertions, deletions, substitutions, adjacent transpositions), case-insensitive.
size_t edit_distance(const std::string& a, const std::string& b);
// Up to `max` candidates within distance max(2, |name| / 3) of `name`, closest first.
std::vector<std::string> closest_names(const std::string& name, const std::vector<std::string>& candidates,
                                       size_t max = 3);
// " (did you mean 'x'?)", " (did you mean 'x' or 'y'?)", or "" when nothing is close.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);
// "a, b, c" ("a, b, ... and 37 more" past `max` names); "(none)" when empty.
std::string name_list(const std::vector<std::string>& names, size_t max = 12);
// A "no node named X" message tail: the close matches when there are any, else the valid names.
std::string valid_names_hint(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace qtool
