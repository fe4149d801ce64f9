#pragma once

namespace tcpsleuth {

// `tcpsleuth run --config FILE [-- EAL args]`; argv[0] is "run". Returns the exit code.
int run_main(int argc, char** argv);

}  // namespace tcpsleuth
