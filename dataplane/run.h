#pragma once

namespace tcpsleuth {

// `tcpsleuth run --config FILE [-- EAL args]`; argv[0] is "run". Returns the exit code.
int run_main(int argc, char** argv);

// `tcpsleuth check-config FILE`; argv[0] is "check-config".
int check_config_main(int argc, char** argv);
int rules_main(int argc, char** argv);

}  // namespace tcpsleuth
