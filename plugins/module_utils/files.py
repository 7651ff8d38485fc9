# -*- coding: utf-8 -*-
# Copyright: kubeboot developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host filesystem access under a rootfs prefix, with atomic writes and change tracking.

Everything that writes goes through a `Writer`: it compares the wanted bytes
and mode with what is on disk, writes only on a difference (temp file + fsync
+ rename + directory fsync), never writes in check mode, and records the
change (path + a diff entry that never carries secret content) in a
`changes.ChangeLog` it may share with the API twin, `apiwriter.ApiWriter`.

Files that belong together (a certificate and its key) are written with `write_together`:
every temp file is complete and fsynced before the first rename, so a run killed between two
renames leaves the missing partner complete in its temp file (`HostFS.interrupted`), from
which the rerun completes the pair. The Writer's temp files carry `TEMP_MARK`; the first
write into a directory removes the ones an interrupted run left there.

This is the only module that opens files. Reads take regular files only (a FIFO or a device
would block or never end) up to `MAX_READ_BYTES`. `NODE` is the machine the module runs on
without the rootfs prefix: kernel interfaces (/proc) and the paths a user hands in
(`config:`, `discovery_file:`, `discovery_ca_file:`) are read through it.
`PrivateDir` holds key material that an API (ssl) only takes as a file. `RootfsLock` is the
lock a run takes on the tree it builds, `check_writable` the check before its first write.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import posixpath
import shutil
import stat
import tempfile
import time

from ansible_collections.kubeboot.cluster.plugins.module_utils import poll
from ansible_collections.kubeboot.cluster.plugins.module_utils.changes import ChangeLog
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import FileError, TimeoutError_

SECRET_PLACEHOLDER = "<secret: content not shown>\n"
TEMP_MARK = ".kubeboot-tmp-"        # in the name of every temp file the Writer creates
MAX_READ_BYTES = 16 * 1024 * 1024   # nothing kubeadm reads or writes comes near this
LOCK_TIMEOUT = 900.0                # how long a run waits for another one on the same tree
REMOVED = ("<removed>", None)  # check mode: a path a Writer would remove (PendingView answers "absent")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


class HostFS:
    """Maps host paths ('/etc/kubernetes/pki/ca.crt') to real paths under `rootfs`."""

    def __init__(self, rootfs: str = "/"):
        self.rootfs = os.path.abspath(rootfs or "/")

    def path(self, host_path: str) -> str:
        """Real path of host_path; the last component is not followed if it is a symlink.

        Under a rootfs other than '/', every directory symlink and '..' is resolved inside the
        rootfs, as if chrooted (an absolute link target is taken relative to the rootfs), so no
        read or write can land outside it.
        """
        if not host_path.startswith("/"):
            raise FileError(f"internal: host path must be absolute, got {host_path!r}")
        if self.rootfs == "/":
            return host_path
        return self._confined(host_path, follow_last=False)

    def resolve(self, host_path: str) -> str:
        """Like path(), but a symlink in the last component is followed (inside the rootfs too)."""
        if self.rootfs == "/":
            return self.path(host_path)
        if not host_path.startswith("/"):
            raise FileError(f"internal: host path must be absolute, got {host_path!r}")
        return self._confined(host_path, follow_last=True)

    def _confined(self, host_path: str, follow_last: bool) -> str:
        pending = [p for p in host_path.split("/") if p not in ("", ".")]
        done: list = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = os.path.join(self.rootfs, *done, part)
            if (pending or follow_last) and os.path.islink(candidate):
                hops += 1
                if hops > 40:
                    raise FileError(f"{host_path}: too many levels of symbolic links")
                target = os.readlink(candidate)
                if target.startswith("/"):
                    done = []
                pending = [p for p in target.split("/") if p not in ("", ".")] + pending
                continue
            done.append(part)
        return os.path.join(self.rootfs, *done)

    def exists(self, host_path: str) -> bool:
        return os.path.lexists(self.path(host_path))

    def isdir(self, host_path: str) -> bool:
        return os.path.isdir(self.resolve(host_path))

    def read_bytes(self, host_path: str, max_bytes: int = MAX_READ_BYTES):
        """Content of a regular file, or None when absent. A FIFO, device or directory is a
        FileError (opened without blocking, never read), and so is a file over max_bytes."""
        try:
            fd = os.open(self.resolve(host_path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise FileError(f"cannot read {host_path}: {exc.strerror}") from None
        try:
            kind = os.fstat(fd).st_mode
            if not stat.S_ISREG(kind):
                raise FileError(f"cannot read {host_path}: it is {_kind(kind)}, not a regular file")
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as exc:
            raise FileError(f"cannot read {host_path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        if size > max_bytes:
            raise FileError(f"cannot read {host_path}: larger than {max_bytes} bytes")
        return b"".join(chunks)

    def read_text(self, host_path: str):
        data = self.read_bytes(host_path)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise FileError(f"cannot read {host_path}: not UTF-8 text") from None

    def _stat(self, host_path: str):
        try:
            return os.stat(self.resolve(host_path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise FileError(f"cannot read {host_path}: {exc.strerror}") from None

    def mode(self, host_path: str):
        info = self._stat(host_path)
        return None if info is None else stat.S_IMODE(info.st_mode)

    def chunks(self, host_path: str, size: int = 1 << 20):
        """The content of a (possibly large) file, piece by piece."""
        try:
            with open(self.resolve(host_path), "rb") as handle:
                yield from iter(lambda: handle.read(size), b"")
        except OSError as exc:
            raise FileError(f"cannot read {host_path}: {exc.strerror}") from None

    def listdir(self, host_path: str) -> list:
        """Names in a directory (sorted; [] when it is absent or not a directory)."""
        try:
            return sorted(os.listdir(self.resolve(host_path)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise FileError(f"cannot list {host_path}: {exc.strerror}") from None

    def mtime_ns(self, host_path: str):
        info = self._stat(host_path)
        return None if info is None else info.st_mtime_ns

    def interrupted(self, host_path: str) -> list:
        """Contents of the Writer's temp files for host_path that an interrupted run left behind,
        newest first (complete when the run was killed between fsync and rename; the caller
        checks that a content is what it expects)."""
        real = self.path(host_path)
        directory, base = os.path.split(real)
        prefix = "." + base + TEMP_MARK
        try:
            names = [n for n in os.listdir(directory) if n.startswith(prefix)]
        except OSError:
            return []
        found = []
        for name in names:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((info.st_mtime_ns, path))
        contents = []
        for _mtime, path in sorted(found, reverse=True):
            try:
                with open(path, "rb") as handle:
                    contents.append(handle.read(MAX_READ_BYTES))
            except OSError:
                continue
        return contents

    def walk_files(self, host_path: str) -> list:
        """Host paths of the files under a directory in Go's filepath.Walk order: entries sorted by
        name, depth first, directory symlinks not followed. FileError when it is not a directory."""
        real = self.resolve(host_path)
        if not os.path.isdir(real):
            raise FileError(f"{host_path}: not a directory")
        found = []

        def walk(real_dir: str, host_dir: str) -> None:
            for name in sorted(os.listdir(real_dir)):
                real_entry, host_entry = os.path.join(real_dir, name), host_dir.rstrip("/") + "/" + name
                if os.path.isdir(real_entry) and not os.path.islink(real_entry):
                    walk(real_entry, host_entry)
                else:
                    found.append(host_entry)
        try:
            walk(real, host_path)
        except OSError as exc:
            raise FileError(f"cannot list {host_path}: {exc.strerror}") from None
        return found


NODE = HostFS("/")


class PrivateDir:
    """A 0700 temporary directory for key material, removed (with its files) on close/exit."""

    def __init__(self, prefix: str = "kubeboot-"):
        self.prefix = prefix
        self.dir = None

    def file(self, name: str, data) -> str:
        """Path of a new 0600 file holding data (created exclusively)."""
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix=self.prefix)
            os.chmod(self.dir, 0o700)
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data if isinstance(data, bytes) else str(data).encode("utf-8"))
        return path

    def close(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> "PrivateDir":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class PendingView(HostFS):
    """A HostFS that answers reads from check mode's pending writes and removals first.

    Phases of one check-mode run build on each other (kubeconfigs need the CA the
    certs phase would create; reset's later phases do not see what earlier ones would
    remove) without anything reaching the disk.
    """

    def __init__(self, fs: HostFS, pending: dict):
        super().__init__(fs.rootfs)
        self._pending = pending

    def _planned(self, host_path: str):
        """(data, mode) of a pending write, REMOVED when it or a parent would be removed, else None."""
        if host_path in self._pending:
            return self._pending[host_path]
        parent = host_path
        while parent not in ("", "/"):
            parent = parent.rsplit("/", 1)[0] or "/"
            if self._pending.get(parent) is REMOVED:
                return REMOVED
        return None

    def exists(self, host_path: str) -> bool:
        planned = self._planned(host_path)
        if planned is not None:
            return planned is not REMOVED
        return super().exists(host_path)

    def isdir(self, host_path: str) -> bool:
        return self._planned(host_path) is not REMOVED and super().isdir(host_path)

    def read_bytes(self, host_path: str):
        planned = self._planned(host_path)
        if planned is not None:
            return None if planned is REMOVED else planned[0]
        return super().read_bytes(host_path)

    def mode(self, host_path: str):
        planned = self._planned(host_path)
        if planned is not None:
            return None if planned is REMOVED else planned[1]
        return super().mode(host_path)

    def listdir(self, host_path: str) -> list:
        if self._planned(host_path) is REMOVED:
            return []
        prefix = host_path.rstrip("/") + "/"
        names = {name for name in super().listdir(host_path) if self.exists(prefix + name)}
        names.update(path[len(prefix):] for path, planned in self._pending.items()
                     if path.startswith(prefix) and "/" not in path[len(prefix):] and planned is not REMOVED)
        return sorted(names)


def _new_temp(real_path: str, mode: int) -> tuple:
    """(fd, path) of a new temp file beside real_path with its mode; its name carries TEMP_MARK, so
    one an interrupted run left is found (HostFS.interrupted) and swept."""
    directory = os.path.dirname(real_path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(real_path) + TEMP_MARK)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    return fd, tmp


def _stage(real_path: str, data: bytes, mode: int) -> str:
    """A complete, fsynced temp file beside real_path holding data (its path is returned)."""
    fd, tmp = _new_temp(real_path, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


@contextlib.contextmanager
def atomic_stream(real_path: str, mode: int):
    """A file written piece by piece (a snapshot too large for memory too) that appears complete or not
    at all: a temporary file beside it, fsynced and renamed into place when the block ends without error."""
    directory = os.path.dirname(real_path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = _new_temp(real_path, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, real_path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_dir(directory)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write(real_path: str, data: bytes, mode: int) -> None:
    """Write data to real_path so a reader sees the old or the new file, never a part."""
    with atomic_stream(real_path, mode) as handle:
        handle.write(data)


def staging_dir(real_path: str) -> str:
    """A new empty directory beside real_path, for a tree built elsewhere (etcdutl) and then moved into
    place with `move_into_place`, or removed with `remove_tree`."""
    parent = os.path.dirname(real_path) or "."
    os.makedirs(parent, mode=0o755, exist_ok=True)
    return tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(real_path) + ".")


def move_into_place(real_src: str, real_dst: str) -> None:
    """rename(2): a directory also replaces an empty directory at real_dst."""
    os.replace(real_src, real_dst)
    _fsync_dir(os.path.dirname(real_dst) or ".")


def remove_tree(real_path: str) -> None:
    shutil.rmtree(real_path, ignore_errors=True)


def _fsync_dir(directory: str) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


class Writer:
    """Idempotent, atomic, check-mode aware writes with a change log and diffs."""

    def __init__(self, fs: HostFS, check_mode: bool = False, log: ChangeLog = None):
        self.fs = fs
        self.check_mode = check_mode
        self.log = log if log is not None else ChangeLog()
        self.pending: dict = {}  # check mode: host path -> bytes that would have been written
        self._swept: set = set()  # directories cleaned of interrupted runs' temp files

    @property
    def changed_paths(self) -> list:
        return self.log.paths

    @property
    def diffs(self) -> list:
        return self.log.diffs

    @property
    def changed(self) -> bool:
        return bool(self.log.paths)

    def ensure_dir(self, host_path: str, mode: int = 0o755) -> bool:
        real = self.fs.path(host_path)
        if os.path.isdir(real):
            return False
        if os.path.lexists(real):
            raise FileError(f"{host_path} exists and is not a directory")
        if not self.check_mode:
            try:
                os.makedirs(real, mode=mode, exist_ok=True)
                os.chmod(real, mode)
            except OSError as exc:
                raise FileError(f"cannot create directory {host_path}: {exc.strerror}") from None
        self.changed_paths.append(host_path)
        return True

    def write(self, host_path: str, data, mode: int, secret: bool = False) -> bool:
        """Write bytes/str when content or mode differ. Returns True if changed."""
        return self.write_together([(host_path, data, mode, secret)])[0]

    def write_together(self, items) -> list:
        """Write files that belong together ([(host_path, data, mode, secret)], e.g. a key and its
        certificate): every changed one is staged in a complete, fsynced temp file before the
        first rename, then renamed in the given order. Returns one changed flag per item."""
        flags, todo = [], []
        for host_path, data, mode, secret in items:
            self._sweep(host_path)
            data = data.encode("utf-8") if isinstance(data, str) else data
            before = self.fs.read_bytes(host_path)
            if before == data and self.fs.mode(host_path) == mode:
                flags.append(False)
                continue
            flags.append(True)
            self._record_diff(host_path, before, data, secret)
            self.changed_paths.append(host_path)
            if self.check_mode:
                self.pending[host_path] = (data, mode)
            else:
                todo.append((host_path, data, mode, before == data))
        if todo:
            self._apply(todo)
        return flags

    def _apply(self, todo: list) -> None:
        reals = [self._parent_ready(host_path) for host_path, _data, _mode, _same in todo]
        staged = []  # (temp path or None for a mode change, real path, mode), in rename order
        current = todo[0][0]
        try:
            for (host_path, data, mode, same), real in zip(todo, reals):
                current = host_path
                staged.append((None if same else _stage(real, data, mode), real, mode))
            for (host_path, _data, _mode, _same), (tmp, real, mode) in zip(todo, list(staged)):
                current = host_path
                if tmp is None:
                    os.chmod(self.fs.resolve(host_path), mode)
                else:
                    os.replace(tmp, real)
                staged.pop(0)
        except OSError as exc:
            for tmp, _real, _mode in staged:
                if tmp is not None:
                    _unlink_quietly(tmp)
            raise FileError(f"cannot write {current}: {exc.strerror}") from None
        for directory in sorted({os.path.dirname(real) for real in reals}):
            _fsync_dir(directory)

    def _parent_ready(self, host_path: str) -> str:
        """The real path of host_path, its directory created; FileError naming the host path."""
        real = self.fs.path(host_path)
        parent = os.path.dirname(real)
        if not os.path.isdir(parent):
            try:
                os.makedirs(parent, mode=0o755, exist_ok=True)
            except OSError as exc:
                raise FileError(f"cannot create directory {posixpath.dirname(host_path)} for {host_path}: "
                                f"{exc.strerror}") from None
        return real

    def _sweep(self, host_path: str) -> None:
        """Remove (once per run and directory) the temp files interrupted runs left beside host_path."""
        host_dir = posixpath.dirname(host_path)
        real_dir = os.path.dirname(self.fs.path(host_path))
        if real_dir in self._swept:
            return
        self._swept.add(real_dir)
        try:
            names = sorted(os.listdir(real_dir))
        except OSError:
            return
        for name in names:
            if not (name.startswith(".") and TEMP_MARK in name):
                continue
            real = os.path.join(real_dir, name)
            if os.path.islink(real) or not os.path.isfile(real):
                continue
            self.changed_paths.append(posixpath.join(host_dir, name))
            self.log.note(f"removed {posixpath.join(host_dir, name)}, left by an interrupted run")
            if not self.check_mode:
                try:
                    os.unlink(real)
                except OSError as exc:
                    raise FileError(f"cannot remove {posixpath.join(host_dir, name)}: {exc.strerror}") from None

    def symlink(self, host_path: str, target: str) -> bool:
        real = self.fs.path(host_path)
        if os.path.islink(real) and os.readlink(real) == target:
            return False
        self._sweep(host_path)
        self.changed_paths.append(host_path)
        if self.check_mode:
            return True
        real = self._parent_ready(host_path)
        tmp = os.path.join(os.path.dirname(real), "." + os.path.basename(real) + TEMP_MARK + "link")
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(target, tmp)
            os.replace(tmp, real)
        except OSError as exc:
            raise FileError(f"cannot write {host_path}: {exc.strerror}") from None
        return True

    def copy_tree(self, source: str, target: str, mode: int = 0o700) -> bool:
        """Copy the directory `source` to `target` (a new directory, `mode`), keeping file modes, as a
        backup (`cp -r`). Symlinks are copied as links. Recorded as one changed path; check mode
        copies nothing. False when `source` does not exist."""
        real_source = self.fs.resolve(source)
        if not os.path.isdir(real_source):
            return False
        real_target = self.fs.path(target)
        if os.path.lexists(real_target):
            raise FileError(f"{target} exists already: a backup is never written over")
        self.changed_paths.append(target)
        if self.check_mode:
            return True
        try:
            os.makedirs(os.path.dirname(real_target), mode=0o700, exist_ok=True)
            shutil.copytree(real_source, real_target, symlinks=True)
            os.chmod(real_target, mode)
        except OSError as exc:
            raise FileError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from None
        return True

    def remove(self, host_path: str, secret: bool = True) -> bool:
        """Remove a file, a symlink (never its target) or a directory tree. Returns True if removed.

        The diff shows the removed content only for `secret=False` (certificates, manifests);
        otherwise, and for directories and links, a placeholder or a summary."""
        real = self.fs.path(host_path)
        if not os.path.lexists(real) or (self.check_mode and not self.view().exists(host_path)):
            return False  # absent, or already planned away in this check-mode run
        self.log.diff(host_path, _removed_text(real, secret), "")
        self.changed_paths.append(host_path)
        if self.check_mode:
            self.pending[host_path] = REMOVED
            return True
        try:
            if os.path.isdir(real) and not os.path.islink(real):
                shutil.rmtree(real)
            else:
                os.unlink(real)
        except OSError as exc:
            raise FileError(f"cannot remove {host_path}: {exc.strerror}") from None
        return True

    def view(self) -> "HostFS":
        """The filesystem as later phases must see it: in check mode, with the pending writes."""
        return PendingView(self.fs, self.pending) if self.check_mode else self.fs

    def _record_diff(self, host_path: str, before, after: bytes, secret: bool) -> None:
        if secret:
            self.log.diff(host_path, SECRET_PLACEHOLDER if before is not None else "", SECRET_PLACEHOLDER)
            return
        self.log.diff(host_path, _text(before), _text(after))


def _removed_text(real: str, secret: bool) -> str:
    """What a removal diff shows as 'before' (never secret content)."""
    if os.path.islink(real):
        return f"<symbolic link to {os.readlink(real)}>\n"
    if os.path.isdir(real):
        count = sum(len(files) for _root, _dirs, files in os.walk(real))
        return f"<directory with {count} file(s)>\n"
    if secret:
        return SECRET_PLACEHOLDER
    try:
        with open(real, "rb") as handle:
            return _text(handle.read())
    except OSError:
        return "<unreadable>\n"


# --- before the first write ---------------------------------------------------------------------

def check_writable(fs: HostFS, host_dirs) -> None:
    """Every directory a run will write into exists as a directory or can be created, on a writable
    file system. FileError names the host path, before anything is written."""
    for host_dir in host_dirs:
        probe = host_dir
        real = fs.resolve(probe)
        while not os.path.lexists(real) and probe != "/":
            probe = posixpath.dirname(probe)
            real = fs.resolve(probe)
        while not os.path.lexists(real):  # the rootfs itself does not exist yet
            real = os.path.dirname(real)
        if not os.path.isdir(real):
            where = "" if probe == host_dir else f" (needed for {host_dir})"
            raise FileError(f"{probe} exists and is not a directory{where}")
        if os.statvfs(real).f_flag & os.ST_RDONLY:
            raise FileError(f"cannot write {host_dir}: {probe} is on a read-only file system")
        if not os.access(real, os.W_OK | os.X_OK):
            raise FileError(f"cannot write {host_dir}: no write permission on {probe}")


class RootfsLock:
    """An exclusive lock on the tree a run builds: flock on the rootfs directory itself, so nothing
    is created in the tree and the lock dies with the process. kubeadm_init, kubeadm_join,
    kubeadm_token, kubeadm_reset, kubeadm_upgrade (apply, node) and kubeadm_certs take it
    (`with RootfsLock(rootfs):`)."""

    def __init__(self, rootfs: str = "/", timeout: float = LOCK_TIMEOUT, create: bool = True,
                 sleep=time.sleep):
        self.rootfs = os.path.abspath(rootfs or "/")
        self.timeout = timeout
        self.create = create
        self.sleep = sleep
        self.fd = None

    def __enter__(self) -> "RootfsLock":
        if not os.path.isdir(self.rootfs):
            if not self.create:
                return self  # check mode on a tree that does not exist: nothing to read or keep
            try:
                os.makedirs(self.rootfs, exist_ok=True)
            except OSError as exc:
                raise FileError(f"cannot create rootfs {self.rootfs}: {exc.strerror}") from None
        self.fd = os.open(self.rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

        def locked():
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                raise poll.NotYet("held by another run") from None

        def timed_out(_last):
            self.__exit__()
            return TimeoutError_(f"another kubeboot run holds the lock on {self.rootfs}: waited "
                                 f"{self.timeout:g}s for it to finish")
        poll.wait_for(locked, self.timeout, 0.2, backoff=1.5, max_interval=2.0, retry_on=(),
                      on_timeout=timed_out, cap_to_deadline=True, sleep=self.sleep)
        return self

    def __exit__(self, *_exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None


def _text(data) -> str:
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "<binary content>\n"
