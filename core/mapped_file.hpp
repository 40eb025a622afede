#pragma once
// A read-only memory mapping of a whole regular file: model files are read in place, never
// copied (llama2.c's mmap of the checkpoint).
#include <cstddef>
#include <memory>
#include <string>

namespace lhb {

class InputFile;

class MappedFile {
public:
    // Throws InputError naming the path when it cannot be opened, is not a regular file
    // (checked as every input is: core/input_file.hpp), or cannot be mapped. `what` names
    // the file in messages.
    explicit MappedFile(const std::string& path, const std::string& what = "model file");
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const unsigned char* data() const { return data_; }
    size_t size() const { return size_; }
    // For a caller that keeps its own copy of bytes [p, p + n) (a backend's repacked
    // weights): drops the whole pages of that range that lie in this mapping from the
    // process's resident set (madvise MADV_DONTNEED). They stay in the page cache, and
    // reading them again maps them back with the same bytes (a private read-only mapping
    // has no private pages to lose). Anything outside the mapping is left alone; a partial
    // page at either end stays. Returns the bytes released.
    size_t release_pages(const void* p, size_t n) const;

private:
    std::unique_ptr<InputFile> file_;  // open while mapped: an input of this run meanwhile
    const unsigned char* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace lhb
