#include "shared/fs/descriptor.hpp"
#include "shared/fs/open_beneath.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using shared::fs::Descriptor;
using namespace tests::support;

namespace {

using Opener = Descriptor (*)(int, std::string_view, int, mode_t);

// A root folder with a file, a subfolder, and symlinks to both, one pointing out of the root.
struct Tree {
  TempDir folder;
  Descriptor root;
  Tree() {
    write_file(folder / "outside/secret", "secret");
    write_file(folder / "root/sub/file", "file");
    write_file(folder / "root/top", "top");
    REQUIRE(::symlink("sub", (folder / "root/sub-link").c_str()) == 0);
    REQUIRE(::symlink("top", (folder / "root/top-link").c_str()) == 0);
    REQUIRE(::symlink("../outside", (folder / "root/out").c_str()) == 0);
    REQUIRE(::symlink("missing", (folder / "root/dangling").c_str()) == 0);
    root.reset(::open((folder / "root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(root.valid());
  }
};

std::string read_all(int fd) {
  std::string text(64, '\0');
  const ssize_t n = ::pread(fd, &text[0], text.size(), 0);
  REQUIRE(n >= 0);
  text.resize(static_cast<std::size_t>(n));
  return text;
}

// The errno of a failed open, 0 when it opened.
int error_of(Opener open, int root, std::string_view path, int flags = O_RDONLY) {
  errno = 0;
  const Descriptor fd = open(root, path, flags, 0);
  return fd.valid() ? 0 : errno;
}

} // namespace

TEST_CASE("Descriptor owns, moves, releases and resets", "[fs]") {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  Descriptor read_end(pipe_fds[0]);
  Descriptor write_end(pipe_fds[1]);
  CHECK(read_end.valid());
  CHECK(static_cast<bool>(write_end));

  Descriptor moved(std::move(read_end));
  CHECK_FALSE(read_end.valid());
  CHECK(moved.get() == pipe_fds[0]);
  read_end = std::move(moved);
  CHECK(read_end.get() == pipe_fds[0]);
  CHECK(moved.get() == -1);

  const int raw = write_end.release();
  CHECK_FALSE(write_end.valid());
  CHECK(::fcntl(raw, F_GETFD) >= 0); // still open: released, not closed
  write_end.reset(raw);
  CHECK(write_end.close() == 0);
  CHECK(::fcntl(raw, F_GETFD) == -1);
  CHECK(write_end.close() == -1); // nothing held

  read_end.reset();
  CHECK(::fcntl(pipe_fds[0], F_GETFD) == -1);
}

TEST_CASE("open_beneath opens files and folders beneath the root", "[fs]") {
  const bool by_segments = GENERATE(false, true);
  const Opener open = by_segments ? shared::fs::open_beneath_by_segments : shared::fs::open_beneath;
  Tree tree;
  const int root = tree.root.get();
  INFO("by segments: " << by_segments);

  CHECK(read_all(open(root, "top", O_RDONLY, 0).get()) == "top");
  CHECK(read_all(open(root, "sub/file", O_RDONLY, 0).get()) == "file");
  CHECK(read_all(open(root, "sub//file", O_RDONLY, 0).get()) == "file");    // empty segment
  CHECK(read_all(open(root, "./sub/./file", O_RDONLY, 0).get()) == "file"); // "." segments

  struct stat st {};
  const Descriptor itself = open(root, "", O_RDONLY | O_DIRECTORY, 0);
  REQUIRE(itself.valid());
  REQUIRE(::fstat(itself.get(), &st) == 0);
  struct stat root_st {};
  REQUIRE(::fstat(root, &root_st) == 0);
  CHECK(st.st_ino == root_st.st_ino);
  const Descriptor sub = open(root, "sub/", O_RDONLY | O_DIRECTORY, 0);
  REQUIRE(sub.valid());
  CHECK(read_all(open(sub.get(), "file", O_RDONLY, 0).get()) == "file");

  const Descriptor made = open(root, "sub/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
  REQUIRE(made.valid());
  REQUIRE(::fstat(made.get(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK((::fcntl(made.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("open_beneath refuses symlinks and escapes, and tells them from missing", "[fs]") {
  const bool by_segments = GENERATE(false, true);
  const Opener open = by_segments ? shared::fs::open_beneath_by_segments : shared::fs::open_beneath;
  Tree tree;
  const int root = tree.root.get();
  INFO("by segments: " << by_segments);

  CHECK(error_of(open, root, "sub-link/file") == ELOOP); // a symlink in the middle
  CHECK(error_of(open, root, "top-link") == ELOOP);      // the last segment
  CHECK(error_of(open, root, "out/secret") == ELOOP);    // out of the root
  CHECK(error_of(open, root, "dangling") == ELOOP);
  CHECK(error_of(open, root, "dangling", O_WRONLY | O_CREAT) == ELOOP); // not created through
  CHECK_FALSE(exists(tree.folder / "root/missing"));
  CHECK(error_of(open, root, "../outside/secret") == EXDEV);
  CHECK(error_of(open, root, "sub/../top") == EXDEV);
  CHECK(error_of(open, root, "sub/..") == EXDEV);
  CHECK(error_of(open, root, (tree.folder / "root/top").c_str()) == EXDEV); // absolute
  CHECK(error_of(open, root, "missing") == ENOENT);
  CHECK(error_of(open, root, "missing/file") == ENOENT);
  CHECK(error_of(open, root, "top/file") == ENOTDIR); // a file in the middle

  CHECK(shared::fs::refused_beneath(ELOOP));
  CHECK(shared::fs::refused_beneath(EXDEV));
  CHECK_FALSE(shared::fs::refused_beneath(ENOENT));
  CHECK_FALSE(shared::fs::refused_beneath(ENOTDIR));
}
