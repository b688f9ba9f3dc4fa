// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace edgemq::app {

/// Prints `headers` and then `rows` as columns aligned on their widest cell, two blanks apart,
/// the last cell of a line unpadded (as `kubectl get` and `emqx ctl` print lists).
/// Thread safety: writes to `out` only.
void print_table(std::ostream& out, const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows);

} // namespace edgemq::app
