//! The download cache folder: one file per collection, data version and format
//! (`{collection}-{version}.{ext}`), and the bulk ZIPs and the tile archive under `alle/`. Files are written under a
//! temporary name and renamed, so a reader never sees half a file. [`sizes`] says which files
//! are ready; the preparer ([`crate::prepare`]) fills the folder and deletes what belongs to
//! older versions ([`DownloadCache::remove_stale`]).
//!
//! The folder belongs to one database: file names carry collection ids and versions, not the
//! database. Without a configured folder, each database gets its own under the system's
//! temporary directory.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use stadtkarte_core::Config;
use stadtkarte_core::catalog::Collection;

use crate::formats::{self, Format};

/// The cache folder.
#[derive(Debug, Clone)]
pub struct DownloadCache {
    dir: PathBuf,
}

/// The data version of a collection in file names and `ETag`s: its `updated_at` without
/// punctuation.
#[must_use]
pub fn version(c: &Collection) -> String {
    c.updated_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// Per download format of `c`: the size of the cached file of its current version, or `None`
/// when it is not prepared (yet).
#[must_use]
pub fn sizes(cache: &DownloadCache, c: &Collection) -> Vec<(&'static Format, Option<u64>)> {
    formats::VECTOR
        .iter()
        .map(|f| (f, cache.size(c, f.ext)))
        .collect()
}

/// FNV-1a: a short, stable name for a database's folder.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl DownloadCache {
    /// The folder configured in `opendata.cache_dir`, or one for this database in the
    /// temporary directory.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        let dir = if config.opendata.cache_dir.is_empty() {
            std::env::temp_dir()
                .join("stadtkarte-downloads")
                .join(format!("{:016x}", fnv1a(&config.database.url)))
        } else {
            PathBuf::from(&config.opendata.cache_dir)
        };
        Self { dir }
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file of `c` in the format with ending `ext` is (or will be).
    #[must_use]
    pub fn file(&self, c: &Collection, ext: &str) -> PathBuf {
        self.dir.join(format!("{}-{}.{ext}", c.id, version(c)))
    }

    /// Size of the cached file, when it is there.
    #[must_use]
    pub fn size(&self, c: &Collection, ext: &str) -> Option<u64> {
        std::fs::metadata(self.file(c, ext))
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
    }

    /// Where the bulk ZIP of one combination of data versions (`version`) in `format`
    /// (`gpkg`, `shp`, `fgb`, `kml`) is.
    #[must_use]
    pub fn bulk_file(&self, version: &str, format: &str) -> PathBuf {
        self.dir
            .join("alle")
            .join(format!("{version}.{format}.zip"))
    }

    /// Deletes the files of older data versions: collection files whose collection is not in
    /// `current` or has another version there, bulk ZIPs of another version than
    /// `bulk_version` and tile archives of another version than `archive_version`. Temporary
    /// files and anything else stay. Returns the deleted paths.
    pub fn remove_stale(
        &self,
        current: &[Collection],
        bulk_version: Option<&str>,
        archive_version: Option<&str>,
    ) -> io::Result<Vec<PathBuf>> {
        let versions: HashMap<&str, String> = current
            .iter()
            .map(|c| (c.id.as_str(), version(c)))
            .collect();
        let mut removed = Vec::new();
        for (path, name) in files(&self.dir)? {
            let Some((id, v)) = parse(&name) else {
                continue;
            };
            if versions.get(id).is_none_or(|now| *now != v) {
                remove(&path, &mut removed)?;
            }
        }
        for (path, name) in files(&self.dir.join("alle"))? {
            let keep = bulk_version.is_some_and(|v| {
                name.strip_prefix(v)
                    .is_some_and(|rest| rest.starts_with('.'))
            });
            if !keep && Path::new(&name).extension().is_some_and(|e| e == "zip") {
                remove(&path, &mut removed)?;
            }
            let keep_archive = archive_version.is_some_and(|v| name == format!("{v}.pmtiles"));
            if !keep_archive && Path::new(&name).extension().is_some_and(|e| e == "pmtiles") {
                remove(&path, &mut removed)?;
            }
        }
        Ok(removed)
    }
}

impl DownloadCache {
    /// Deletes the temporary files and folders (`.tmp…`, as `tempfile` names them) of the cache
    /// and its bulk folder that nothing has written to for `idle`: what a preparation or a
    /// request left when its process died. A temporary item still being written has a fresh
    /// modification time and stays. Returns the deleted paths.
    pub fn remove_leftovers(&self, idle: std::time::Duration) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for dir in [self.dir.clone(), self.dir.join("alle")] {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                if !entry.file_name().to_string_lossy().starts_with(".tmp") {
                    continue;
                }
                let path = entry.path();
                if last_written(&path)?.elapsed().unwrap_or_default() < idle {
                    continue;
                }
                let gone = if entry.file_type()?.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                match gone {
                    Ok(()) => removed.push(path),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

/// The latest modification time of a file, or of a folder and what it holds.
fn last_written(path: &Path) -> io::Result<std::time::SystemTime> {
    let meta = std::fs::metadata(path)?;
    let mut latest = meta.modified()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let inner = last_written(&entry?.path())?;
            latest = latest.max(inner);
        }
    }
    Ok(latest)
}

/// The plain files of a folder (none when it does not exist), without hidden ones.
fn files(dir: &Path) -> io::Result<Vec<(PathBuf, String)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            out.push((entry.path(), name));
        }
    }
    Ok(out)
}

fn remove(path: &Path, removed: &mut Vec<PathBuf>) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            removed.push(path.to_owned());
            Ok(())
        }
        // Another process cleaned up first.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `{collection}-{version}.{ext}` → (collection, version). The version has no `-`, so the last
/// one separates them even when the collection id contains some.
fn parse(name: &str) -> Option<(&str, &str)> {
    let stem = formats::VECTOR
        .iter()
        .find_map(|f| name.strip_suffix(f.ext)?.strip_suffix('.'))?;
    let (id, version) = stem.rsplit_once('-')?;
    (!id.is_empty() && !version.is_empty() && version.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some((id, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_read_back() {
        assert_eq!(
            parse("poi-20260102T1030000000000000.shp.zip"),
            Some(("poi", "20260102T1030000000000000"))
        );
        assert_eq!(parse("bus-stops-2026.geojson"), Some(("bus-stops", "2026")));
        assert_eq!(parse("poi.geojson"), None);
        assert_eq!(parse("poi-20260102.zip"), None);
        assert_eq!(parse("LIESMICH.txt"), None);
    }

    #[test]
    fn a_database_gets_its_own_default_folder() {
        let mut a = Config::default();
        a.database.url = "postgresql://x@localhost/eins".into();
        let mut b = a.clone();
        b.database.url = "postgresql://x@localhost/zwei".into();
        assert_ne!(DownloadCache::new(&a).dir(), DownloadCache::new(&b).dir());
        b.opendata.cache_dir = "/srv/downloads".into();
        assert_eq!(DownloadCache::new(&b).dir(), Path::new("/srv/downloads"));
    }
}
