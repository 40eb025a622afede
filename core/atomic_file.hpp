#pragma once
// Writes a file under a temporary name beside the target and renames it into place on
// commit(), so readers only ever see a complete file (or the previous one). If the writer
// dies or is destroyed before commit(), the temporary is removed.
#include <cstdio>
#include <string>

namespace lhb {

class AtomicFile {
public:
    // Throws InputError naming the path if the temporary cannot be created.
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Throw InputError naming the file on a short write (disk full, I/O error).
    void write(const void* data, size_t bytes);
    void write(const std::string& s) { write(s.data(), s.size()); }
    // Flushes, fsyncs and renames onto the final path.
    void commit();

    const std::string& path() const { return path_; }
    const std::string& temp_path() const { return tmp_; }

private:
    std::string path_, tmp_;
    std::FILE* f_ = nullptr;
};

// Whole-file convenience.
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace lhb
