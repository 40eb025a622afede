#include "core/registry.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/thread_limit.hpp"

namespace lhb {

namespace {
std::vector<BackendFactory>& factories() {
    static std::vector<BackendFactory> list;  // function-local: safe during static init
    return list;
}
}  // namespace

void BackendRegistry::add(BackendFactory factory) { factories().push_back(std::move(factory)); }

std::vector<const BackendFactory*> BackendRegistry::all() {
    std::vector<const BackendFactory*> out;
    for (const BackendFactory& f : factories()) out.push_back(&f);
    std::stable_sort(out.begin(), out.end(),
                     [](const BackendFactory* a, const BackendFactory* b) { return a->order < b->order; });
    return out;
}

const BackendFactory* BackendRegistry::find(const std::string& name) {
    for (const BackendFactory& f : factories())
        if (f.name == name) return &f;
    return nullptr;
}

std::string BackendRegistry::names() {
    std::string s;
    for (const BackendFactory* f : all()) s += (s.empty() ? "" : ", ") + f->name;
    return s;
}

const BackendFactory& BackendRegistry::reference() {
    const BackendFactory* ref = nullptr;
    for (const BackendFactory* f : all()) {
        if (!f->reference) continue;
        if (ref) throw InputError("backends '" + ref->name + "' and '" + f->name + "' both registered as the reference");
        ref = f;
    }
    if (!ref) throw InputError("no reference backend is built in (built: " + names() + ")");
    return *ref;
}

std::unique_ptr<Backend> BackendRegistry::create(const std::string& name,
                                                 const BackendOptions& options) {
    const BackendFactory* f = find(name);
    if (!f) throw InputError("backend '" + name + "': unknown; expected one of " + names());
    check_thread_count(options.threads, "backend '" + name + "'");
    Availability a = f->available ? f->available(options) : Availability{};
    if (!a.available) throw InputError("backend '" + name + "': not available here: " + a.reason);
    return f->create(options);
}

}  // namespace lhb
