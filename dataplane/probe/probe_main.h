#pragma once

namespace tcpsleuth {

// `tcpsleuth probe HOST[:PORT] [--tests LIST] [--json] ...`; returns the exit status.
int probe_main(int argc, char** argv);

}  // namespace tcpsleuth
