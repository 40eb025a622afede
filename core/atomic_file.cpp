#include "core/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace lhb {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    tmp_ = path_ + ".tmp." + std::to_string(::getpid());
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) throw InputError(path_ + ": cannot write: " + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (f_) {
        std::fclose(f_);
        std::remove(tmp_.c_str());
    }
}

void AtomicFile::write(const void* data, size_t bytes) {
    if (bytes && std::fwrite(data, 1, bytes, f_) != bytes)
        throw InputError(path_ + ": write failed: " + std::strerror(errno));
}

void AtomicFile::commit() {
    int err = 0;
    if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0) err = errno;
    if (std::fclose(f_) != 0 && !err) err = errno;
    f_ = nullptr;
    if (!err && std::rename(tmp_.c_str(), path_.c_str()) != 0) err = errno;
    if (err) {
        std::remove(tmp_.c_str());
        throw InputError(path_ + ": write failed: " + std::strerror(err));
    }
}

void write_file_atomically(const std::string& path, const std::string& contents) {
    AtomicFile f(path);
    f.write(contents);
    f.commit();
}

}  // namespace lhb
