#pragma once
// Helpers shared by the libFuzzer targets: the parsers under test take file paths, so each
// input is written to an in-memory file (memfd) that is reopened through /proc/self/fd.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace lhb::fuzz {

// One memfd per name, created on first use and rewritten for every input.
class MemFile {
public:
    explicit MemFile(const char* name) {
        fd_ = ::memfd_create(name, MFD_CLOEXEC);
        if (fd_ < 0) {
            std::perror("memfd_create");
            std::abort();
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    // Replaces the file's contents with `size` bytes of `data`.
    void assign(const void* data, size_t size) {
        if (::ftruncate(fd_, 0) != 0) std::abort();
        const auto* p = static_cast<const unsigned char*>(data);
        size_t done = 0;
        while (done < size) {
            ssize_t n = ::pwrite(fd_, p + done, size - done, off_t(done));
            if (n <= 0) std::abort();
            done += size_t(n);
        }
    }
    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

// Consumes a fuzz input front to back.
struct Bytes {
    const uint8_t* p;
    size_t n;
    uint32_t u32() {
        uint32_t v = 0;
        size_t k = n < 4 ? n : 4;
        std::memcpy(&v, p, k);
        p += k;
        n -= k;
        return v;
    }
    // Up to `want` bytes.
    std::string take(size_t want) {
        size_t k = want < n ? want : n;
        std::string s(reinterpret_cast<const char*>(p), k);
        p += k;
        n -= k;
        return s;
    }
    std::string rest() { return take(n); }
};

}  // namespace lhb::fuzz
