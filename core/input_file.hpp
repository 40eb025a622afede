#pragma once
// Every file bench reads goes through here: it must be a regular file (a FIFO would block
// forever, /dev/zero never ends, a directory is no input), and whole-file reads are bounded
// by a maximum the caller states. Inputs are remembered by identity (device, inode) so that
// an output can refuse to overwrite one of the run's inputs (core/atomic_file.hpp): an open
// InputFile (so a mapped model) while it is open, a file read whole by read_input_file (a
// config, board, tokenizer, results file) for the rest of the process as long as it is
// unchanged (same change time), so that a later rewrite of it by a test or tool is not
// mistaken for clobbering.
#include <cstdint>
#include <string>

struct stat;

namespace lhb {

// Identity of a file: equal for the same file under any path or hard link.
struct FileIdentity {
    uint64_t dev = 0;
    uint64_t ino = 0;
    bool operator==(const FileIdentity&) const = default;
};

// An open input: a read-only descriptor of a regular file, closed by the destructor.
class InputFile {
public:
    // Opens without blocking (O_NONBLOCK, so a FIFO cannot hang the open), checks the type
    // with fstat and refuses anything but a regular file with one line naming the path,
    // `what` it was meant to be ("config file", "model file") and what was found ("a FIFO",
    // "a character device", ...). Every failure carries the operating system's reason.
    // The file is an input of this run (is_input_file) while the InputFile lives.
    InputFile(const std::string& path, const std::string& what);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    int fd() const { return fd_; }
    uint64_t size() const { return size_; }
    FileIdentity identity() const { return id_; }
    const std::string& path() const { return path_; }

    // Reads the whole file; refuses one larger than max_bytes (before reading anything)
    // or one that changes size while being read. The file stays an input of this run after
    // the InputFile is gone, until it changes.
    std::string read_all(uint64_t max_bytes, const std::string& what);

private:
    std::string path_;
    int fd_ = -1;
    uint64_t size_ = 0;
    FileIdentity id_;
    int64_t ctime_ns_ = 0;
};

// InputFile(path, what).read_all(max_bytes, what).
std::string read_input_file(const std::string& path, uint64_t max_bytes, const std::string& what);

// Stated maxima of the files read whole (a real one is far smaller; the caps only stop
// a hostile or mistaken file from exhausting memory).
constexpr uint64_t kMaxConfigBytes = 16ull << 20;      // bench run configs
constexpr uint64_t kMaxResultsBytes = 256ull << 20;    // results.json
constexpr uint64_t kMaxSpecBytes = 4ull << 20;         // board and design files
constexpr uint64_t kMaxTokenizerBytes = 256ull << 20;  // tokenizer.bin (a 2M-piece vocabulary)

// The status change time of a stat result, in nanoseconds (for is_input_file).
int64_t ctime_ns_of(const struct stat& st);

// "a FIFO", "a directory", "a character device", ... for an st_mode.
const char* file_type_name(unsigned mode);

// Whether the file `id`, whose status change time is `ctime_ns`, is an input of this run.
bool is_input_file(const FileIdentity& id, int64_t ctime_ns);

}  // namespace lhb
