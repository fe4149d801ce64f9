#include "inspectors/evidence/idle_profiles.h"

#include <algorithm>

namespace tcpsleuth {
namespace {

std::vector<IdleProfile>& profiles() {
    static std::vector<IdleProfile> p = default_idle_profiles();
    return p;
}

}  // namespace

void set_idle_profiles(std::vector<IdleProfile> p) {
    sort_idle_profiles(p);
    profiles() = std::move(p);
}

const std::vector<IdleProfile>& idle_profiles() { return profiles(); }

std::uint32_t snap_to_device_default(const IdleBracket& b) {
    if (b.killed_min_s == 0) return 0;
    for (const IdleProfile& p : profiles()) {
        if (p.seconds > b.survived_max_s && p.seconds <= b.killed_min_s) return p.seconds;
    }
    return 0;
}

std::string devices_with_timeout(std::uint32_t seconds) {
    std::vector<const std::string*> names;
    for (const IdleProfile& p : profiles()) {
        if (p.seconds == seconds) names.push_back(&p.name);
    }
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i != 0) out += i + 1 == names.size() ? " and " : ", ";
        out += *names[i];
    }
    return out;
}

}  // namespace tcpsleuth
