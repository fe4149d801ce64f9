#pragma once

namespace tcpsleuth {

// `tcpsleuth analyze FILE [options]`; argv[0] is "analyze". Returns the process exit code.
int analyze_main(int argc, char** argv);

}  // namespace tcpsleuth
