#pragma once

namespace tcpsleuth {

// `tcpsleuth check-config FILE`; argv[0] is "check-config". Returns the exit code.
int check_config_main(int argc, char** argv);
// `tcpsleuth rules [FILE]`; argv[0] is "rules".
int rules_main(int argc, char** argv);

}  // namespace tcpsleuth
