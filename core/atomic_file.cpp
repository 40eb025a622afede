#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/error.hpp"
#include "core/input_file.hpp"

namespace lhb {

namespace {

std::string os_reason(int err) { return err ? std::strerror(err) : "unknown error"; }

// Temporaries the signal handler removes: fixed storage, so that the handler only reads
// plain memory and calls unlink (async-signal-safe). A slot is published by setting
// `used` after its path is written.
constexpr int kSlots = 32;
constexpr size_t kSlotPath = 4096;
struct TempSlot {
    std::atomic<int> used{0};
    char path[kSlotPath];
};
TempSlot g_slots[kSlots];
std::once_flag g_handlers_once;

extern "C" void remove_temporaries_and_reraise(int sig) { remove_temporaries_and_die(sig); }

// Installs the handler for the signals that end a program by default (those a handler can
// catch) and are still at their default: a program with its own handling (bench run's
// graceful stop) keeps it. SIGPIPE and SIGXFSZ matter too: stdout closed by `| head`, or a
// file-size limit reached mid-write, would otherwise end the process with a temporary left.
void install_handlers() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGXFSZ, SIGXCPU, SIGALRM, SIGUSR1, SIGUSR2,
                    SIGVTALRM, SIGPROF}) {
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;
        struct sigaction sa {};
        sa.sa_handler = remove_temporaries_and_reraise;
        sigemptyset(&sa.sa_mask);
        ::sigaction(sig, &sa, nullptr);
    }
}

int register_temporary(const std::string& path) {
    if (path.size() >= kSlotPath) return -1;
    for (int i = 0; i < kSlots; ++i) {
        int expected = 0;
        // Claimed as 2 while the path is written; only 1 is visible to the handler.
        if (g_slots[i].used.compare_exchange_strong(expected, 2)) {
            std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
            g_slots[i].used.store(1);
            return i;
        }
    }
    return -1;  // more than kSlots at once: still removed on every other path
}

void unregister_temporary(int slot) {
    if (slot >= 0) g_slots[slot].used.store(0);
}

std::string parent_folder(const std::string& path) {
    const std::string p = std::filesystem::path(path).parent_path().string();
    return p.empty() ? "." : p;
}

// Before the first byte: the size against the stated maximum and the free space of the
// file system the (already created, empty) temporary `fd` lives on.
void check_room(const std::string& path, int fd, uint64_t bytes) {
    if (bytes > kMaxOutputBytes)
        throw InputError(path + ": write refused: " + std::to_string(bytes) + " bytes, expected at most " +
                         std::to_string(kMaxOutputBytes) + " bytes: " + os_reason(EFBIG));
    struct statvfs vfs {};
    if (::fstatvfs(fd, &vfs) != 0) throw InputError(path + ": cannot check the free space: " + os_reason(errno));
    const uint64_t free_bytes = uint64_t(vfs.f_bavail) * uint64_t(vfs.f_frsize);
    if (bytes > free_bytes)
        throw InputError(path + ": write failed before the first byte: needs " + std::to_string(bytes) +
                         " bytes, found " + std::to_string(free_bytes) + " bytes free on the file system of " +
                         parent_folder(path) + ": " + os_reason(ENOSPC));
}

}  // namespace

void remove_temporaries_and_die(int sig) {
    for (TempSlot& s : g_slots)
        if (s.used.load()) ::unlink(s.path);
    ::signal(sig, SIG_DFL);
    ::raise(sig);  // delivered when the handler returns (the signal is blocked in it)
}

void check_output_target(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        throw InputError(path + ": cannot write: " + os_reason(errno));
    }
    if (!S_ISREG(st.st_mode))
        throw InputError(path + ": cannot write: expected a regular file or nothing there, found " +
                         file_type_name(st.st_mode) + " (left untouched): " + os_reason(EEXIST));
    if (is_input_file({uint64_t(st.st_dev), uint64_t(st.st_ino)}, ctime_ns_of(st)))
        throw InputError(path + ": cannot write: it is one of this run's inputs (the same file): " +
                         os_reason(EEXIST));
}

void remove_stale_output(const std::string& path) {
    try {
        check_output_target(path);
    } catch (const InputError&) {
        return;
    }
    ::unlink(path.c_str());
}

AtomicFile::AtomicFile(std::string path, uint64_t expected_bytes) : path_(std::move(path)) {
    check_output_target(path_);
    std::call_once(g_handlers_once, install_handlers);
    // O_EXCL: the temporary is a new file of this run, never something already there
    // (a link planted under the temporary's name is not followed).
    for (int attempt = 0; fd_ < 0; ++attempt) {
        tmp_ = path_ + ".tmp." + std::to_string(::getpid()) + (attempt ? "." + std::to_string(attempt) : "");
        // Registered before it exists, so that no signal can leave it behind; a name that
        // turns out to be taken (EEXIST) is not ours and is dropped at once.
        slot_ = register_temporary(tmp_);
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd_ < 0) {
            const int err = errno;
            unregister_temporary(slot_);
            slot_ = -1;
            if (err != EEXIST || attempt >= 100) throw InputError(path_ + ": cannot write: " + os_reason(err));
        }
    }
    if (expected_bytes) {
        try {
            check_room(path_, fd_, expected_bytes);
        } catch (const InputError&) {
            discard();
            throw;
        }
    }
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
    unregister_temporary(slot_);
    slot_ = -1;
}

void AtomicFile::write(const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
        const ssize_t n = ::write(fd_, p, bytes);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            discard();  // a partial temporary is of no use and may fill the disk
            throw InputError(path_ + ": write failed: " + os_reason(err));
        }
        p += n;
        bytes -= size_t(n);
    }
}

void AtomicFile::commit() {
    if (fd_ < 0) throw InputError(path_ + ": write failed: " + os_reason(EBADF));
    int err = 0;
    if (::fsync(fd_) != 0) err = errno;
    if (::close(fd_) != 0 && !err) err = errno;
    fd_ = -1;
    // Checked again just before the rename: the target may have changed during the write.
    std::string refused;
    if (!err) {
        try {
            check_output_target(path_);
        } catch (const InputError& e) {
            refused = e.what();
        }
    }
    if (!err && refused.empty() && std::rename(tmp_.c_str(), path_.c_str()) != 0) err = errno;
    if (err || !refused.empty()) {
        ::unlink(tmp_.c_str());
        unregister_temporary(slot_);
        slot_ = -1;
        throw InputError(refused.empty() ? path_ + ": write failed: " + os_reason(err) : refused);
    }
    unregister_temporary(slot_);
    slot_ = -1;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
    AtomicFile f(path);
    f.write(contents);
    f.commit();
}

namespace {

// The components of `dir` that do not exist yet, outermost first. An existing one (even a
// dangling link) stops the walk and must be a directory.
std::vector<std::string> missing_folders(const std::string& dir) {
    namespace fs = std::filesystem;
    std::vector<std::string> missing;
    fs::path p = fs::path(dir).lexically_normal();
    if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();  // "a/b/" is "a/b"
    struct stat st {};
    for (; !p.empty(); p = p.parent_path()) {
        if (::lstat(p.c_str(), &st) == 0) break;
        if (errno != ENOENT) throw InputError(p.string() + ": cannot create the output folder: " + os_reason(errno));
        missing.insert(missing.begin(), p.string());
        if (p == p.parent_path()) break;
    }
    if (!p.empty() && ::stat(p.c_str(), &st) != 0)
        throw InputError(p.string() + ": cannot use as the output folder (" + file_type_name(S_IFLNK) +
                         " to nothing?): " + os_reason(errno));
    if (!p.empty() && !S_ISDIR(st.st_mode))
        throw InputError(p.string() + ": cannot use as the output folder: expected a directory, found " +
                         file_type_name(st.st_mode) + ": " + os_reason(ENOTDIR));
    return missing;
}

// rmdir, innermost first: only folders that are still empty go.
void remove_created_folders(const std::vector<std::string>& created) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
}

// mkdir of each of `missing` (outermost first), recorded in `created`; on failure the
// ones created are removed again.
void create_folders(const std::vector<std::string>& missing, std::vector<std::string>& created) {
    for (const std::string& m : missing) {
        if (::mkdir(m.c_str(), 0777) != 0) {
            const int err = errno;
            remove_created_folders(created);
            created.clear();
            throw InputError(m + ": cannot create the output folder: " + os_reason(err));
        }
        created.push_back(m);
    }
}

// The pid holding an flock on the file (dev, ino), from /proc/locks; 0 when not found.
long flock_holder(const struct stat& st) {
    std::FILE* f = std::fopen("/proc/locks", "re");
    if (!f) return 0;
    char line[512];
    long pid = 0;
    while (!pid && std::fgets(line, sizeof line, f)) {
        // "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234 0 EOF" (waiters have "-> " before FLOCK)
        char kind[16], mode[16], access[16];
        long holder = 0;
        unsigned dev_major = 0, dev_minor = 0;
        unsigned long ino = 0;
        const char* p = std::strchr(line, ':');
        if (!p || std::strstr(line, "->")) continue;
        if (std::sscanf(p + 1, "%15s %15s %15s %ld %x:%x:%lu", kind, mode, access, &holder, &dev_major, &dev_minor,
                        &ino) == 7 &&
            std::strcmp(kind, "FLOCK") == 0 && dev_major == major(st.st_dev) && dev_minor == minor(st.st_dev) &&
            ino == st.st_ino)
            pid = holder;
    }
    std::fclose(f);
    return pid;
}

}  // namespace

void probe_output_folder(const std::string& dir, const std::string& file_name) {
    std::vector<std::string> created;
    create_folders(missing_folders(dir), created);
    try {
        AtomicFile probe((std::filesystem::path(dir) / file_name).string());
    } catch (const InputError&) {
        remove_created_folders(created);
        throw;
    }
    remove_created_folders(created);
}

OutputFolderLock::OutputFolderLock(const std::string& dir) {
    create_folders(missing_folders(dir), created_);
    // O_DIRECTORY: a folder, never a file or a FIFO opened by mistake. A link to a folder is
    // followed: the lock is on the folder it names, so every spelling of one folder (a link,
    // "out/", "a/../out") meets the same lock.
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int open_err = errno;
    if (fd_ < 0) {
        remove_created_folders(created_);
        throw InputError(dir + ": cannot lock the output folder: " + os_reason(open_err));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    const int err = errno;
    struct stat st {};
    const long holder = err == EWOULDBLOCK && ::fstat(fd_, &st) == 0 ? flock_holder(st) : 0;
    ::close(fd_);
    fd_ = -1;
    remove_created_folders(created_);
    if (err != EWOULDBLOCK) throw InputError(dir + ": cannot lock the output folder: " + os_reason(err));
    throw InputError(dir + ": another bench run" + (holder > 0 ? " (pid " + std::to_string(holder) + ")" : "") +
                     " is writing into this folder; wait for it to finish or choose another --out: " +
                     os_reason(EWOULDBLOCK));
}

OutputFolderLock::~OutputFolderLock() {
    remove_created_folders(created_);  // a run that failed before writing anything leaves no folder
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace lhb
