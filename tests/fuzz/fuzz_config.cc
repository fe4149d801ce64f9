// libFuzzer target: the TOML loader and the payload-rule compiler on any text. A file is
// either refused with located errors or loaded; a loaded configuration, shown as TOML
// (`config.show`) and read back, is the same configuration, and shows the same text again.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace tcpsleuth;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ConfigLoad load = load_config_text(text, "fuzz.toml");
    if (!load.ok()) {
        for (const ConfigError& e : load.errors) {
            const std::string line = e.to_string();
            if (line.rfind("fuzz.toml:", 0) != 0 || e.message.empty()) fuzz::fail("an error without its place or message", line);
        }
        return 0;
    }
    const std::string shown = render_config(load.config);
    const ConfigLoad again = load_config_text(shown, "shown.toml");
    if (!again.ok()) fuzz::fail("the shown configuration does not load", again.errors[0].to_string() + "\n" + shown);
    if (!(again.config == load.config)) fuzz::fail("the shown configuration reads back different", shown);
    if (render_config(again.config) != shown) fuzz::fail("the shown configuration shows different text", shown);
    for (const ConfigChange& c : config_changes(DaemonConfig{}, load.config)) {
        if (c.key.empty()) fuzz::fail("a change without its key", c.from + " -> " + c.to);
    }
    return 0;
}
