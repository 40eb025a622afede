#pragma once
// Writes a file under a temporary name beside the target and renames it into place on
// commit(), so readers only ever see a complete file (or the previous one). If the writer
// dies or is destroyed before commit(), the temporary is removed, and so it is when the
// process is ended by any signal a handler can catch (SIGINT, SIGTERM, SIGHUP, SIGPIPE,
// SIGXFSZ, ...), unless the program handles that signal itself.
//
// Outputs never clobber: the target must be nothing yet or a regular file. A symbolic link,
// a device node, a FIFO, a socket or a directory at the target is refused and left alone (so
// is whatever a link points to), and so is a target that is the same file (device and
// inode, whatever the path or hard link) as one of this run's inputs (core/input_file.hpp).
// Every error names the file and the operating system's reason.
#include <cstdint>
#include <string>
#include <vector>

namespace lhb {

// The largest file bench writes (a 7B-parameter fp32 checkpoint is 27 GB).
constexpr uint64_t kMaxOutputBytes = 64ull << 30;

class AtomicFile {
public:
    // Throws InputError naming the path if the target may not be replaced or the temporary
    // cannot be created. When `expected_bytes` is given, a file larger than kMaxOutputBytes or
    // than the free space of the target's file system is refused before anything is written.
    explicit AtomicFile(std::string path, uint64_t expected_bytes = 0);
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
    void discard();
    std::string path_, tmp_;
    int fd_ = -1;
    int slot_ = -1;  // in the signal handler's list of temporaries
};

// Removes every registered temporary, restores `sig`'s default action and raises it: for a
// program's own signal handler (bench run's second Ctrl-C). Async-signal-safe.
void remove_temporaries_and_die(int sig);

// One writer per output folder: an exclusive flock(2) on the folder itself (no lock file to
// plant a link at, clobber or leave behind), held until destruction and released by the
// kernel whatever ends the process. Creates the folder (and missing parents) when needed;
// the ones it created are removed again at destruction if they are still empty. Throws
// InputError "DIR: another bench run (pid N) is writing into this folder ..." when
// another process holds it.
class OutputFolderLock {
public:
    explicit OutputFolderLock(const std::string& dir);
    ~OutputFolderLock();
    OutputFolderLock(const OutputFolderLock&) = delete;
    OutputFolderLock& operator=(const OutputFolderLock&) = delete;

private:
    int fd_ = -1;
    std::vector<std::string> created_;  // outermost first
};

// Whole-file convenience.
void write_file_atomically(const std::string& path, const std::string& contents);

// Throws InputError unless `path` may be replaced by an output: it does not exist, or it is
// a regular file (not a link) that is not one of this run's inputs.
void check_output_target(const std::string& path);

// Removes `path` if it is a regular file that may be replaced (check_output_target); leaves
// anything else alone. For a stale output that would contradict a new one.
void remove_stale_output(const std::string& path);

// Fails now, not after an hour's work, when `file_name` cannot be written into the folder
// `dir`: creates the missing folders, checks the target and writes a temporary there, then
// removes the temporary and the (empty) folders it created. A path component that exists
// but is not a directory (a dangling link, a file) is named with the OS reason.
void probe_output_folder(const std::string& dir, const std::string& file_name);

}  // namespace lhb
