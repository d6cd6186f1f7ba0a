"""A Python implementation under test for the interposer: the usual atomic-replace save done the
way Python programs do it (builtin open, os.fsync, os.replace, directory fsync, dir_fd calls).
Prints "<step> ok" or "<step> <errno name>" for each step and carries on after a failure.
Usage: python3 pyio.py DIR"""
import errno
import os
import sys


def step(name, fn):
    try:
        fn()
        print(name, "ok", flush=True)
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, str(e.errno)), flush=True)


def main():
    d = sys.argv[1]
    tmp = os.path.join(d, "state.tmp")

    def save():
        with open(tmp, "wb") as f:
            f.write(b"python snapshot")
            f.flush()
            os.fsync(f.fileno())

    step("save", save)
    step("replace", lambda: os.replace(tmp, os.path.join(d, "state")))

    def dir_sync():
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    step("dirsync", dir_sync)

    def at_calls():
        dfd = os.open(d, os.O_RDONLY)
        try:
            fd = os.open("x", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=dfd)
            os.write(fd, b"x")
            os.close(fd)
            os.rename("x", "y", src_dir_fd=dfd, dst_dir_fd=dfd)
            os.mkdir("m", dir_fd=dfd)
            os.rmdir("m", dir_fd=dfd)
            os.unlink("y", dir_fd=dfd)
        finally:
            os.close(dfd)

    step("at", at_calls)


main()
