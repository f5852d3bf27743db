//! Archives that come from outside — XPlanArchiv files from planning offices, zipped Shapefiles,
//! anything later — unpacked so that nothing in them can reach beyond the archive.
//!
//! Only regular files and folders are unpacked, each under a name that stays inside the target
//! folder. A symbolic link, a device, a FIFO, a socket or any other special entry refuses the
//! whole archive: a link to a server file would otherwise be imported, stored and published as
//! if it were a document of the plan. The unpacked size is bounded, so a zip bomb fails early.
//! Every archive the platform reads goes through [`unpack`]; nothing calls the zip crate's own
//! `extract`, which creates the symbolic links an archive asks for.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Unpacked bytes at most (all entries together).
pub const MAX_UNPACKED_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// File-type bits of a Unix mode.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;

/// Why an archive was refused. Nothing is left behind in the target folder's parent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Not a readable zip archive.
    #[error("not a valid zip archive ({0})")]
    Invalid(String),
    /// An entry that is not a regular file or folder, or that names a place outside.
    #[error("the archive entry {entry:?} is refused: {reason}")]
    Refused {
        /// The entry's name in the archive.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// The archive unpacks to more than [`MAX_UNPACKED_BYTES`].
    #[error("the archive unpacks to more than {} GiB", MAX_UNPACKED_BYTES >> 30)]
    TooLarge,
    /// Writing the unpacked files failed.
    #[error("cannot unpack: {0}")]
    Io(#[from] std::io::Error),
}

/// What kind of entry a Unix mode describes, or why it is refused.
fn kind(mode: Option<u32>, name_is_dir: bool) -> Result<bool, &'static str> {
    let Some(mode) = mode else {
        // No Unix mode (an archive made on Windows): a folder or an ordinary file.
        return Ok(name_is_dir);
    };
    match mode & S_IFMT {
        S_IFDIR => Ok(true),
        // Some tools write 0 for the type bits of ordinary files.
        S_IFREG | 0 => Ok(name_is_dir),
        0o120_000 => Err("it is a symbolic link"),
        0o020_000 => Err("it is a character device"),
        0o060_000 => Err("it is a block device"),
        0o010_000 => Err("it is a named pipe (FIFO)"),
        0o140_000 => Err("it is a socket"),
        _ => Err("it is not a regular file"),
    }
}

/// Unpacks `zip_path` into `target` (a fresh folder); returns the files written.
pub fn unpack(zip_path: &Path, target: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let file = File::open(zip_path)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    // First every entry is checked, so that a refused archive writes nothing at all.
    let mut declared: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        let name = entry.name().to_owned();
        kind(entry.unix_mode(), entry.is_dir()).map_err(|reason| ArchiveError::Refused {
            entry: name.clone(),
            reason,
        })?;
        if entry.enclosed_name().is_none() {
            return Err(ArchiveError::Refused {
                entry: name,
                reason: "its name points outside the archive (absolute, or with ..)",
            });
        }
        declared = declared.saturating_add(entry.size());
        if declared > MAX_UNPACKED_BYTES {
            return Err(ArchiveError::TooLarge);
        }
    }
    let mut written = Vec::new();
    let mut budget = MAX_UNPACKED_BYTES;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        let Some(relative) = entry.enclosed_name() else {
            continue;
        };
        let path = target.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // create_new: never through something that is already there (a link of our own
        // making cannot exist, but two entries of the same name must not overwrite).
        let mut out = File::options().write(true).create_new(true).open(&path)?;
        let mut limited = (&mut entry).take(budget + 1);
        let n = std::io::copy(&mut limited, &mut out)?;
        if n > budget {
            drop(out);
            let _ = std::fs::remove_file(&path);
            return Err(ArchiveError::TooLarge);
        }
        budget -= n;
        out.flush()?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::kind;

    #[test]
    fn only_files_and_folders_pass() {
        assert_eq!(kind(None, false), Ok(false));
        assert_eq!(kind(None, true), Ok(true));
        assert_eq!(kind(Some(0o100_644), false), Ok(false));
        assert_eq!(kind(Some(0o040_755), true), Ok(true));
        assert_eq!(kind(Some(0o644), false), Ok(false));
        for special in [0o120_777, 0o020_644, 0o060_644, 0o010_644, 0o140_644] {
            assert!(kind(Some(special), false).is_err(), "{special:o}");
        }
    }
}
