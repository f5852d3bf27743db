//! Files that several nodes may share (an NFS folder): a file or folder is written under a
//! temporary name in the folder it will live in, flushed to the disk (`fsync`), and then renamed
//! to its name, and the folder is flushed too. A rename within one folder is atomic, also on
//! NFS, so a reader — on this node or another — sees either no file or the whole file, and after
//! a crash of the writer or of the machine there is never a half-written file under the final
//! name (at worst a temporary one, which the owners clean up).
//!
//! The writers themselves stay where they are (`tempfile` in the download cache, GDAL in the
//! imagery importer); this module is the last step they share.

use std::io;
use std::path::Path;

/// Flushes a file's bytes to the disk.
pub fn sync_file(path: &Path) -> io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// Flushes a folder's entries (the names created or renamed in it) to the disk. Folders cannot
/// be opened for flushing on every system; there it does nothing.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Flushes a file, or a folder with everything in it.
pub fn sync_tree(path: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            sync_tree(&entry?.path())?;
        }
        sync_dir(path)
    } else {
        sync_file(path)
    }
}

/// The folder a path lives in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Publishes `from` (a finished file or folder, in the same folder as `to` or at least on the
/// same file system) under the name `to`: flushed, renamed, the folder flushed. An existing
/// file `to` is replaced; a folder `to` must not exist.
pub fn publish(from: &Path, to: &Path) -> io::Result<()> {
    sync_tree(from)?;
    std::fs::rename(from, to)?;
    sync_dir(parent(to))
}

/// Publishes a finished temporary file of the `tempfile` crate under the name `to`.
pub fn persist(tmp: tempfile::NamedTempFile, to: &Path) -> io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(to).map_err(|e| e.error)?;
    sync_dir(parent(to))
}

/// Writes `bytes` to `to` under a temporary name in its folder and publishes it.
pub fn write_atomic(to: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let dir = parent(to);
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    persist(tmp, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_file_replaces_the_old_one_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.txt");
        write_atomic(&target, b"eins").unwrap();
        write_atomic(&target, b"zwei").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"zwei");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
    }

    #[test]
    fn a_folder_is_published_whole() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join(".in-arbeit");
        std::fs::create_dir_all(work.join("z01")).unwrap();
        std::fs::write(work.join("z01/t.tif"), b"tiff").unwrap();
        let target = dir.path().join("v1");
        publish(&work, &target).unwrap();
        assert!(!work.exists());
        assert_eq!(std::fs::read(target.join("z01/t.tif")).unwrap(), b"tiff");
    }
}
