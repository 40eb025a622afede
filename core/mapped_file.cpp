#include "core/mapped_file.hpp"

#include <sys/mman.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/error.hpp"
#include "core/input_file.hpp"

namespace lhb {

MappedFile::MappedFile(const std::string& path, const std::string& what) {
    file_ = std::make_unique<InputFile>(path, what);
    size_ = size_t(file_->size());
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file_->fd(), 0);
        if (p == MAP_FAILED) throw InputError(path + ": cannot map the " + what + ": " + std::strerror(errno));
        data_ = static_cast<const unsigned char*>(p);
    }
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
}

size_t MappedFile::release_pages(const void* p, size_t n) const {
    const uintptr_t map_lo = reinterpret_cast<uintptr_t>(data_), map_hi = map_lo + size_;
    const uintptr_t lo = std::max(reinterpret_cast<uintptr_t>(p), map_lo);
    const uintptr_t hi = std::min(reinterpret_cast<uintptr_t>(p) + n, map_hi);
    const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const uintptr_t first = (lo + page - 1) / page * page, last = hi / page * page;
    if (!data_ || first >= last) return 0;
    // A hint: if the kernel refuses, the pages simply stay resident.
    if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) return 0;
    return last - first;
}

}  // namespace lhb
