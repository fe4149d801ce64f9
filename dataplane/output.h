#pragma once
// Where events and reports go: a file, "-" for stdout, or a default stream.

#include <cstdio>
#include <memory>
#include <string>

namespace tcpsleuth {

struct FileCloser {
    void operator()(std::FILE* f) const {
        if (f != nullptr && f != stdout && f != stderr) std::fclose(f);
    }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// "" -> `dflt`, "-" -> stdout, anything else is opened for writing (null on failure, errno set).
inline FilePtr open_output(const std::string& path, std::FILE* dflt) {
    if (path.empty()) return FilePtr(dflt);
    if (path == "-") return FilePtr(stdout);
    return FilePtr(std::fopen(path.c_str(), "w"));
}

}  // namespace tcpsleuth
