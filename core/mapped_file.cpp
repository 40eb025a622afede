#include "core/mapped_file.hpp"

#include <sys/mman.h>

#include <cerrno>
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

}  // namespace lhb
