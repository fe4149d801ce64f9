#pragma once
// Sequential pcap/pcapng reading from any ByteSource (stream_reader.cc).

#include <memory>
#include <string>

#include "dataplane/pcap/byte_source.h"
#include "dataplane/pcap/pcap_reader.h"

namespace tcpsleuth {

// Reads the capture header from `src`; nullptr and `error` when it is not a capture.
std::unique_ptr<CaptureReader> open_stream_reader(std::unique_ptr<ByteSource> src, const std::string& name,
                                                  std::string& error);

}  // namespace tcpsleuth
