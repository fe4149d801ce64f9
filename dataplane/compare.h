#pragma once

namespace tcpsleuth {

// `tcpsleuth compare A B [options]`; argv[0] is "compare". Returns the process exit code.
int compare_main(int argc, char** argv);

}  // namespace tcpsleuth
