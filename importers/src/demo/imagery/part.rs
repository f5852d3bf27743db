//! One part of an epoch on disk: its north-up pixel grid in EPSG:25832, cut into bands of rows,
//! and its files, raw interleaved 8-bit pixels with a GDAL VRT beside them.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{RenderError, Xy, write_error};

/// Rows painted as one unit of work.
pub(super) const BAND_ROWS: usize = 64;

/// A north-up pixel grid in EPSG:25832.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Grid {
    /// West edge.
    pub(super) x0: f64,
    /// North edge.
    pub(super) top: f64,
    /// Pixel size in metres.
    pub(super) pixel: f64,
    pub(super) width: usize,
    pub(super) height: usize,
}

impl Grid {
    /// The grid of `pixel` metres covering `extent` (min x, min y, max x, max y), with its edges
    /// on whole 10 m.
    pub(super) fn covering(extent: [f64; 4], pixel: f64) -> Self {
        let x0 = (extent[0] / 10.0).floor() * 10.0;
        let y0 = (extent[1] / 10.0).floor() * 10.0;
        let x1 = (extent[2] / 10.0).ceil() * 10.0;
        let top = (extent[3] / 10.0).ceil() * 10.0;
        Self {
            x0,
            top,
            pixel,
            width: ((x1 - x0) / pixel).round().max(1.0) as usize,
            height: ((top - y0) / pixel).round().max(1.0) as usize,
        }
    }

    /// World coordinates to fractional pixel coordinates (x right, y down).
    pub(super) fn to_pixel(self, p: Xy) -> Xy {
        ((p.0 - self.x0) / self.pixel, (self.top - p.1) / self.pixel)
    }

    /// The bands of rows that a world bounding box touches, if it overlaps the grid at all.
    pub(super) fn bands(&self, bbox: [f64; 4]) -> Option<Range<usize>> {
        let x1 = self.x0 + self.width as f64 * self.pixel;
        let y0 = self.top - self.height as f64 * self.pixel;
        if bbox[2] < self.x0 || bbox[0] > x1 || bbox[3] < y0 || bbox[1] > self.top {
            return None;
        }
        let first = ((self.top - bbox[3]) / self.pixel).floor().max(0.0) as usize;
        let last = (((self.top - bbox[1]) / self.pixel).ceil().max(0.0) as usize)
            .min(self.height.saturating_sub(1));
        Some(first / BAND_ROWS..last / BAND_ROWS + 1)
    }
}

/// Writes `pixels` as `<stem>.raw` with `<stem>.vrt` beside it; returns the VRT's path.
pub(super) fn write_part(
    dir: &Path,
    stem: &str,
    grid: &Grid,
    gray: bool,
    pixels: &[u8],
) -> Result<PathBuf, RenderError> {
    let raw_name = format!("{stem}.raw");
    let raw = dir.join(&raw_name);
    std::fs::write(&raw, pixels).map_err(write_error(&raw))?;
    let vrt = dir.join(format!("{stem}.vrt"));
    std::fs::write(&vrt, vrt_text(grid, &raw_name, gray)).map_err(write_error(&vrt))?;
    Ok(vrt)
}

/// A GDAL VRT that reads raw interleaved 8-bit pixels from `raw_name` beside it.
fn vrt_text(grid: &Grid, raw_name: &str, gray: bool) -> String {
    let bands: &[&str] = if gray {
        &["Gray"]
    } else {
        &["Red", "Green", "Blue"]
    };
    let mut s = format!(
        "<VRTDataset rasterXSize=\"{}\" rasterYSize=\"{}\">\n  <SRS>EPSG:25832</SRS>\n  \
         <GeoTransform>{}, {}, 0, {}, 0, {}</GeoTransform>\n",
        grid.width, grid.height, grid.x0, grid.pixel, grid.top, -grid.pixel
    );
    for (i, interp) in bands.iter().enumerate() {
        let _ = write!(
            s,
            "  <VRTRasterBand dataType=\"Byte\" band=\"{band}\" subClass=\"VRTRawRasterBand\">\n    \
             <ColorInterp>{interp}</ColorInterp>\n    \
             <SourceFilename relativeToVRT=\"1\">{raw_name}</SourceFilename>\n    \
             <ImageOffset>{i}</ImageOffset>\n    <PixelOffset>{n}</PixelOffset>\n    \
             <LineOffset>{line}</LineOffset>\n  </VRTRasterBand>\n",
            band = i + 1,
            n = bands.len(),
            line = grid.width * bands.len(),
        );
    }
    s.push_str("</VRTDataset>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_and_bands() {
        let grid = Grid::covering([392_886.7, 5_570_970.4, 408_037.9, 5_584_965.9], 2.0);
        assert_eq!((grid.x0, grid.top), (392_880.0, 5_584_970.0));
        assert_eq!((grid.width, grid.height), (7_580, 7_000));
        let (x, y) = grid.to_pixel((392_890.0, 5_584_960.0));
        assert!((x - 5.0).abs() < 1e-9 && (y - 5.0).abs() < 1e-9);
        assert_eq!(
            grid.bands([392_900.0, 5_584_700.0, 393_000.0, 5_584_960.0]),
            Some(0..3)
        );
        assert_eq!(grid.bands([0.0, 0.0, 10.0, 10.0]), None);
    }

    #[test]
    fn gdal_reads_the_vrt_with_extent_crs_and_pixels() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let grid = Grid {
            x0: 400_000.0,
            top: 5_580_010.0,
            pixel: 0.5,
            width: 4,
            height: 3,
        };
        let rgb: Vec<u8> = (0..36).collect();
        let vrt = write_part(dir.path(), "rgb", &grid, false, &rgb).expect("written");
        let gray: Vec<u8> = (100..112).collect();
        let gray_vrt = write_part(dir.path(), "gray", &grid, true, &gray).expect("written");

        let ds = gdal::Dataset::open(&vrt).expect("GDAL opens the VRT");
        assert_eq!(ds.raster_size(), (4, 3));
        assert_eq!(ds.raster_count(), 3);
        let transform = ds.geo_transform().expect("geotransform");
        let expected = [400_000.0, 0.5, 0.0, 5_580_010.0, 0.0, -0.5];
        assert!(
            transform
                .iter()
                .zip(expected)
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{transform:?}"
        );
        assert_eq!(
            ds.spatial_ref().expect("srs").auth_code().ok(),
            Some(25_832)
        );
        let green = ds.rasterband(2).expect("band 2");
        let values = green
            .read_as::<u8>((0, 0), (4, 3), (4, 3), None)
            .expect("pixels");
        assert_eq!(
            values.data(),
            &[1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34]
        );
        assert_eq!(
            green.color_interpretation(),
            gdal::raster::ColorInterpretation::GreenBand
        );

        let ds = gdal::Dataset::open(&gray_vrt).expect("GDAL opens the gray VRT");
        assert_eq!(ds.raster_count(), 1);
        let band = ds.rasterband(1).expect("band 1");
        let values = band
            .read_as::<u8>((3, 2), (1, 1), (1, 1), None)
            .expect("pixel");
        assert_eq!(values.data(), &[111]);

        // And the command-line tools agree.
        let info = std::process::Command::new("gdalinfo")
            .arg(&vrt)
            .output()
            .expect("gdalinfo runs");
        let text = String::from_utf8_lossy(&info.stdout);
        assert!(info.status.success(), "{text}");
        assert!(text.contains("ETRS89 / UTM zone 32N"), "{text}");
        assert!(
            text.contains("Upper Left  (  400000.000, 5580010.000)"),
            "{text}"
        );
        assert!(
            text.contains("Lower Right (  400002.000, 5580008.500)"),
            "{text}"
        );
    }
}
