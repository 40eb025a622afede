#pragma once
// A read-only memory mapping of a whole regular file: model files are read in place, never
// copied (llama2.c's mmap of the checkpoint).
#include <cstddef>
#include <string>

namespace lhb {

class MappedFile {
public:
    // Throws InputError naming the path when it cannot be opened, is not a regular file, or
    // cannot be mapped.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const unsigned char* data() const { return data_; }
    size_t size() const { return size_; }

private:
    int fd_ = -1;
    const unsigned char* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace lhb
