//! The tile index of a Cloud-Optimized `GeoTIFF` aligned to `WebMercatorQuad`, read once, so that
//! serving a tile is one positioned read of its compressed bytes.
//!
//! Only the first image (IFD) is used: the importer writes one COG per zoom level, so the full
//! resolution of each file is aligned by construction. Classic TIFF and `BigTIFF`, both byte
//! orders. WebP tiles are complete WebP files and are served as stored; JPEG tiles get the
//! file's `JPEGTables` spliced in after their start-of-image marker.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Half the width of the `WebMercatorQuad` world in metres.
pub const WORLD_HALF: f64 = 20_037_508.342_789_244;

/// How the tiles are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileCodec {
    /// WebP (TIFF compression 50001), possibly with alpha.
    Webp,
    /// JPEG (TIFF compression 7).
    Jpeg,
}

impl TileCodec {
    /// The media type of one tile.
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// The file extension of one tile.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Jpeg => "jpg",
        }
    }
}

/// Why a file cannot serve tiles by byte copy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CogError {
    /// Reading failed.
    #[error("cannot read {0}")]
    Io(#[from] std::io::Error),
    /// Not a TIFF, or a broken one.
    #[error("not a valid TIFF: {0}")]
    Format(String),
    /// A TIFF that cannot be served by copying tiles.
    #[error("cannot serve tiles from this GeoTIFF: {0}")]
    Unsupported(String),
}

/// One zoom level: its tiles' positions in the file.
#[derive(Debug)]
pub struct CogLevel {
    /// The `WebMercatorQuad` zoom level.
    pub zoom: u8,
    /// Column of the image's top-left tile in the tile matrix.
    pub col0: u32,
    /// Row of the image's top-left tile in the tile matrix.
    pub row0: u32,
    /// Tiles across.
    pub cols: u32,
    /// Tiles down.
    pub rows: u32,
    /// Tile codec.
    pub codec: TileCodec,
    offsets: Vec<u64>,
    counts: Vec<u64>,
    /// JPEG tables without their SOI and EOI markers.
    jpeg_tables: Option<Vec<u8>>,
    file: File,
}

impl CogLevel {
    /// Reads the tile index of `path`.
    pub fn open(path: &Path) -> Result<Self, CogError> {
        let file = File::open(path)?;
        let reader = Reader::new(&file)?;
        let ifd = reader.first_ifd()?;
        let get_u = |tag: u16| -> Result<u64, CogError> {
            ifd.values(&reader, tag)?
                .and_then(|v| v.first().copied())
                .ok_or_else(|| CogError::Format(format!("tag {tag} is missing")))
        };
        if ifd
            .values(&reader, 254)?
            .and_then(|v| v.first().copied())
            .unwrap_or(0)
            & 1
            != 0
        {
            return Err(CogError::Unsupported(
                "the first image is an overview".into(),
            ));
        }
        let width = get_u(256)?;
        let height = get_u(257)?;
        let tile_width = ifd
            .values(&reader, 322)?
            .and_then(|v| v.first().copied())
            .ok_or_else(|| CogError::Unsupported("not tiled".into()))?;
        let tile_height = get_u(323)?;
        if tile_width != 256 || tile_height != 256 {
            return Err(CogError::Unsupported(format!(
                "tiles of {tile_width}×{tile_height} pixels (256×256 needed)"
            )));
        }
        let codec = match get_u(259)? {
            50001 => TileCodec::Webp,
            7 => TileCodec::Jpeg,
            other => {
                return Err(CogError::Unsupported(format!(
                    "compression {other} (WebP or JPEG needed)"
                )));
            }
        };
        let planar = ifd
            .values(&reader, 284)?
            .and_then(|v| v.first().copied())
            .unwrap_or(1);
        if planar != 1 {
            return Err(CogError::Unsupported("separate colour planes".into()));
        }
        let offsets = ifd
            .values(&reader, 324)?
            .ok_or_else(|| CogError::Format("no TileOffsets".into()))?;
        let counts = ifd
            .values(&reader, 325)?
            .ok_or_else(|| CogError::Format("no TileByteCounts".into()))?;
        let cols = width.div_ceil(tile_width);
        let rows = height.div_ceil(tile_height);
        if offsets.len() as u64 != cols * rows || counts.len() != offsets.len() {
            return Err(CogError::Format(format!(
                "{} tile offsets for {cols}×{rows} tiles",
                offsets.len()
            )));
        }
        let scale = ifd
            .doubles(&reader, 33550)?
            .ok_or_else(|| CogError::Unsupported("no georeferencing (ModelPixelScale)".into()))?;
        let tie = ifd
            .doubles(&reader, 33922)?
            .ok_or_else(|| CogError::Unsupported("no georeferencing (ModelTiepoint)".into()))?;
        if scale.len() < 2 || tie.len() < 6 {
            return Err(CogError::Format("short georeferencing tags".into()));
        }
        let (zoom, first_col, first_row) = grid_position(
            scale[0],
            scale[1],
            tie[3] - tie[0] * scale[0],
            tie[4] + tie[1] * scale[1],
        )?;
        let jpeg_tables = match codec {
            TileCodec::Jpeg => ifd.bytes(&reader, 347)?.map(|t| strip_soi_eoi(&t)),
            TileCodec::Webp => None,
        };
        Ok(Self {
            zoom,
            col0: first_col,
            row0: first_row,
            cols: u32::try_from(cols).map_err(|_| CogError::Format("too many tiles".into()))?,
            rows: u32::try_from(rows).map_err(|_| CogError::Format("too many tiles".into()))?,
            codec,
            offsets,
            counts,
            jpeg_tables,
            file,
        })
    }

    /// Index of tile `(col, row)` of the tile matrix, if the image covers it.
    fn index(&self, col: u32, row: u32) -> Option<usize> {
        let c = col.checked_sub(self.col0)?;
        let r = row.checked_sub(self.row0)?;
        (c < self.cols && r < self.rows).then(|| r as usize * self.cols as usize + c as usize)
    }

    /// Whether the level has stored bytes for the tile.
    #[must_use]
    pub fn has_tile(&self, col: u32, row: u32) -> bool {
        self.index(col, row).is_some_and(|i| self.counts[i] > 0)
    }

    /// The stored bytes of tile `(col, row)`, ready to send; `None` when the image does not
    /// cover the tile or the tile is empty (sparse).
    pub fn tile(&self, col: u32, row: u32) -> std::io::Result<Option<Vec<u8>>> {
        let Some(i) = self.index(col, row) else {
            return Ok(None);
        };
        let (offset, count) = (self.offsets[i], self.counts[i]);
        if count == 0 || offset == 0 {
            return Ok(None);
        }
        let len = usize::try_from(count).map_err(std::io::Error::other)?;
        let mut data = vec![0; len];
        self.file.read_exact_at(&mut data, offset)?;
        if let Some(tables) = &self.jpeg_tables
            && data.starts_with(&[0xFF, 0xD8])
        {
            let mut spliced = Vec::with_capacity(data.len() + tables.len());
            spliced.extend_from_slice(&data[..2]);
            spliced.extend_from_slice(tables);
            spliced.extend_from_slice(&data[2..]);
            return Ok(Some(spliced));
        }
        Ok(Some(data))
    }

    /// Number of tiles with stored bytes and their total size.
    #[must_use]
    pub fn stored(&self) -> (u64, u64) {
        let tiles = self.counts.iter().filter(|&&c| c > 0).count() as u64;
        (tiles, self.counts.iter().sum())
    }
}

/// The zoom level and the top-left tile of an image with the given pixel size and origin, if it
/// lies exactly on the `WebMercatorQuad` grid.
fn grid_position(sx: f64, sy: f64, x0: f64, y0: f64) -> Result<(u8, u32, u32), CogError> {
    let tile_m = sx * 256.0;
    let zoom_f = (2.0 * WORLD_HALF / tile_m).log2();
    let zoom = zoom_f.round();
    if (zoom_f - zoom).abs() > 1e-6 || (sx - sy).abs() > sx * 1e-9 || !(0.0..=24.0).contains(&zoom)
    {
        return Err(CogError::Unsupported(format!(
            "pixel size {sx} × {sy} m is not a WebMercatorQuad zoom level"
        )));
    }
    let col = (x0 + WORLD_HALF) / tile_m;
    let row = (WORLD_HALF - y0) / tile_m;
    if (col - col.round()).abs() > 1e-6
        || (row - row.round()).abs() > 1e-6
        || col < -1e-6
        || row < -1e-6
    {
        return Err(CogError::Unsupported(format!(
            "the image does not start on a tile boundary (column {col:.4}, row {row:.4})"
        )));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((zoom as u8, col.round() as u32, row.round() as u32))
}

fn strip_soi_eoi(tables: &[u8]) -> Vec<u8> {
    let mut t = tables;
    if t.starts_with(&[0xFF, 0xD8]) {
        t = &t[2..];
    }
    if t.ends_with(&[0xFF, 0xD9]) {
        t = &t[..t.len() - 2];
    }
    t.to_vec()
}

/// Byte order and layout of a TIFF file.
struct Reader<'a> {
    file: &'a File,
    little: bool,
    big: bool,
}

/// One directory entry.
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    /// The inline value bytes (4 or 8) as stored.
    inline: [u8; 8],
}

struct Ifd {
    entries: Vec<Entry>,
}

impl<'a> Reader<'a> {
    fn new(file: &'a File) -> Result<Self, CogError> {
        let mut head = [0u8; 4];
        file.read_exact_at(&mut head, 0)?;
        let little = match &head[..2] {
            b"II" => true,
            b"MM" => false,
            _ => return Err(CogError::Format("no TIFF byte-order mark".into())),
        };
        let mut r = Self {
            file,
            little,
            big: false,
        };
        match r.u16_at(&head[2..4]) {
            42 => {}
            43 => r.big = true,
            other => return Err(CogError::Format(format!("TIFF version {other}"))),
        }
        Ok(r)
    }

    fn u16_at(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }

    fn u32_at(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }

    fn u64_at(&self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, CogError> {
        if len > 512 * 1024 * 1024 {
            return Err(CogError::Format("a tag is larger than 512 MiB".into()));
        }
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn first_ifd(&self) -> Result<Ifd, CogError> {
        let (offset, count_len, entry_len) = if self.big {
            let b = self.read(8, 8)?;
            (self.u64_at(&b), 8, 20)
        } else {
            let b = self.read(4, 4)?;
            (u64::from(self.u32_at(&b)), 2, 12)
        };
        let b = self.read(offset, count_len)?;
        let n = if self.big {
            self.u64_at(&b)
        } else {
            u64::from(self.u16_at(&b))
        };
        if n > 4096 {
            return Err(CogError::Format(format!("{n} directory entries")));
        }
        let n = usize::try_from(n).map_err(|e| CogError::Format(e.to_string()))?;
        let raw = self.read(offset + count_len as u64, n * entry_len)?;
        let entries = raw
            .chunks_exact(entry_len)
            .map(|e| {
                let mut inline = [0u8; 8];
                let count = if self.big {
                    inline.copy_from_slice(&e[12..20]);
                    self.u64_at(&e[4..12])
                } else {
                    inline[..4].copy_from_slice(&e[8..12]);
                    u64::from(self.u32_at(&e[4..8]))
                };
                Entry {
                    tag: self.u16_at(&e[0..2]),
                    kind: self.u16_at(&e[2..4]),
                    count,
                    inline,
                }
            })
            .collect();
        Ok(Ifd { entries })
    }
}

fn type_size(kind: u16) -> Option<usize> {
    Some(match kind {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

impl Ifd {
    /// The raw value bytes of a tag.
    fn raw(&self, r: &Reader<'_>, tag: u16) -> Result<Option<(u16, usize, Vec<u8>)>, CogError> {
        let Some(e) = self.entries.iter().find(|e| e.tag == tag) else {
            return Ok(None);
        };
        let size = type_size(e.kind)
            .ok_or_else(|| CogError::Format(format!("tag {tag} has unknown type {}", e.kind)))?;
        let count = usize::try_from(e.count).map_err(|err| CogError::Format(err.to_string()))?;
        let len = count
            .checked_mul(size)
            .ok_or_else(|| CogError::Format(format!("tag {tag} is too long")))?;
        let inline_len = if r.big { 8 } else { 4 };
        let bytes = if len <= inline_len {
            e.inline[..len].to_vec()
        } else {
            let offset = if r.big {
                r.u64_at(&e.inline)
            } else {
                u64::from(r.u32_at(&e.inline))
            };
            r.read(offset, len)?
        };
        Ok(Some((e.kind, size, bytes)))
    }

    /// Unsigned integer values (BYTE, SHORT, LONG, LONG8, IFD8).
    fn values(&self, r: &Reader<'_>, tag: u16) -> Result<Option<Vec<u64>>, CogError> {
        let Some((kind, size, bytes)) = self.raw(r, tag)? else {
            return Ok(None);
        };
        if !matches!(kind, 1 | 3 | 4 | 16 | 18) {
            return Err(CogError::Format(format!(
                "tag {tag} is not an unsigned integer"
            )));
        }
        Ok(Some(
            bytes
                .chunks_exact(size)
                .map(|c| match size {
                    1 => u64::from(c[0]),
                    2 => u64::from(r.u16_at(c)),
                    4 => u64::from(r.u32_at(c)),
                    _ => r.u64_at(c),
                })
                .collect(),
        ))
    }

    /// DOUBLE values.
    fn doubles(&self, r: &Reader<'_>, tag: u16) -> Result<Option<Vec<f64>>, CogError> {
        let Some((kind, _, bytes)) = self.raw(r, tag)? else {
            return Ok(None);
        };
        if kind != 12 {
            return Err(CogError::Format(format!("tag {tag} is not DOUBLE")));
        }
        Ok(Some(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_bits(r.u64_at(c)))
                .collect(),
        ))
    }

    /// Bytes (UNDEFINED or BYTE).
    fn bytes(&self, r: &Reader<'_>, tag: u16) -> Result<Option<Vec<u8>>, CogError> {
        Ok(self.raw(r, tag)?.map(|(_, _, b)| b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_position_of_aligned_and_unaligned_origins() {
        let z = 17;
        let tile_m = 2.0 * WORLD_HALF / f64::from(1u32 << z);
        let px = tile_m / 256.0;
        let (zoom, col, row) = grid_position(
            px,
            px,
            -WORLD_HALF + 68_000.0 * tile_m,
            WORLD_HALF - 44_000.0 * tile_m,
        )
        .expect("aligned");
        assert_eq!((zoom, col, row), (17, 68_000, 44_000));
        assert!(grid_position(px, px, -WORLD_HALF + 68_000.5 * tile_m, WORLD_HALF).is_err());
        assert!(grid_position(px * 1.1, px * 1.1, -WORLD_HALF, WORLD_HALF).is_err());
    }

    #[test]
    fn jpeg_tables_lose_their_markers() {
        assert_eq!(strip_soi_eoi(&[0xFF, 0xD8, 1, 2, 0xFF, 0xD9]), vec![1, 2]);
        assert_eq!(strip_soi_eoi(&[1, 2]), vec![1, 2]);
    }
}
