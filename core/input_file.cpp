#include "core/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/error.hpp"

namespace lhb {

namespace {

struct InputRecord {
    FileIdentity id;
    int open = 0;               // InputFiles open on it now
    int64_t kept_ctime_ns = -1;  // read whole: an input while its change time is this
};
std::mutex g_inputs_mutex;
std::vector<InputRecord> g_inputs;  // a run reads a handful of files: a list is enough

InputRecord& record_of(const FileIdentity& id) {
    for (InputRecord& r : g_inputs)
        if (r.id == id) return r;
    return g_inputs.emplace_back(InputRecord{id});
}

std::string os_reason(int err) { return err ? std::strerror(err) : "unknown error"; }

}  // namespace

const char* file_type_name(unsigned mode) {
    switch (mode & S_IFMT) {
        case S_IFREG: return "a regular file";
        case S_IFDIR: return "a directory";
        case S_IFIFO: return "a FIFO";
        case S_IFCHR: return "a character device";
        case S_IFBLK: return "a block device";
        case S_IFSOCK: return "a socket";
        case S_IFLNK: return "a symbolic link";
        default: return "a special file";
    }
}

int64_t ctime_ns_of(const struct stat& st) { return int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec; }

bool is_input_file(const FileIdentity& id, int64_t ctime_ns) {
    std::lock_guard<std::mutex> lock(g_inputs_mutex);
    for (const InputRecord& r : g_inputs)
        if (r.id == id) return r.open > 0 || r.kept_ctime_ns == ctime_ns;
    return false;
}

InputFile::InputFile(const std::string& path, const std::string& what) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd_ < 0) {
        const int err = errno;
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))  // a socket cannot be opened at all
            throw InputError(path + ": " + what + ": expected a regular file, found " + file_type_name(st.st_mode));
        throw InputError(path + ": cannot open the " + what + ": expected a readable file, found " + os_reason(err));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        const int err = errno;
        ::close(fd_);
        throw InputError(path + ": cannot open the " + what + ": " + os_reason(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd_);
        fd_ = -1;
        throw InputError(path + ": " + what + ": expected a regular file, found " + file_type_name(st.st_mode));
    }
    // Regular files never block; clear the flag so reads behave as usual.
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
    size_ = uint64_t(st.st_size);
    id_ = {uint64_t(st.st_dev), uint64_t(st.st_ino)};
    ctime_ns_ = ctime_ns_of(st);
    std::lock_guard<std::mutex> lock(g_inputs_mutex);
    ++record_of(id_).open;
}

InputFile::~InputFile() {
    if (fd_ < 0) return;
    ::close(fd_);
    std::lock_guard<std::mutex> lock(g_inputs_mutex);
    --record_of(id_).open;
}

std::string InputFile::read_all(uint64_t max_bytes, const std::string& what) {
    if (size_ > max_bytes)
        throw InputError(path_ + ": " + what + ": expected at most " + std::to_string(max_bytes) +
                         " bytes, found " + std::to_string(size_) + " bytes");
    std::string bytes(size_t(size_), '\0');
    size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::read(fd_, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw InputError(path_ + ": cannot read the " + what + ": " + os_reason(errno));
        if (n == 0) break;
        got += size_t(n);
    }
    // A file that shrank or grew while read is not the file that was checked.
    char extra;
    ssize_t more;
    do more = ::read(fd_, &extra, 1);
    while (more < 0 && errno == EINTR);
    if (got != bytes.size() || more > 0)
        throw InputError(path_ + ": " + what + ": changed size while being read (expected " +
                         std::to_string(size_) + " bytes)");
    std::lock_guard<std::mutex> lock(g_inputs_mutex);
    record_of(id_).kept_ctime_ns = ctime_ns_;
    return bytes;
}

std::string read_input_file(const std::string& path, uint64_t max_bytes, const std::string& what) {
    return InputFile(path, what).read_all(max_bytes, what);
}

}  // namespace lhb
