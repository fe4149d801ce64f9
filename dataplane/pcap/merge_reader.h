#pragma once
// analyze's inputs: one capture, standard input, or several files and directories merged
// by timestamp (merge_reader.cc).

#include <memory>
#include <string>
#include <vector>

#include "dataplane/pcap/pcap_reader.h"

namespace tcpsleuth {

// Opens `args` (files, directories of captures, or "-" alone); one reader over all of them.
std::unique_ptr<CaptureReader> open_inputs(const std::vector<std::string>& args, std::string& error);

}  // namespace tcpsleuth
