//! Photos attached to defect reports.
//!
//! Every upload is checked and re-encoded before it is stored:
//!
//! * the format is sniffed from the bytes (never from the file name or the `Content-Type`);
//!   JPEG, PNG and `WebP` are accepted, HEIC/HEIF (iPhone) gets its own helpful message;
//! * the size in bytes and the pixel count (read from the header, before anything is decoded)
//!   are limited, so a decompression bomb is refused before a single pixel buffer exists;
//! * the photo is decoded, turned upright (EXIF orientation), flattened onto white, scaled down
//!   and encoded again as JPEG; the output therefore carries no EXIF, GPS, XMP, ICC or comment
//!   data at all, only the segments the JPEG encoder writes itself.
//!
//! Staff can black out faces and number plates with [`redact`] before a photo is published.
//! [`Workers`] bounds how many photos are processed at once and keeps the CPU work off the async
//! worker threads.

use std::f64::consts::PI;
use std::io::Cursor;
use std::sync::Arc;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage};
use tokio::sync::Semaphore;

/// JPEG quality of the display image.
const DISPLAY_QUALITY: u8 = 82;
/// JPEG quality of the thumbnail.
const THUMB_QUALITY: u8 = 75;
/// `detected` value of [`PhotoError::Unsupported`] when the format is not known.
const UNKNOWN: &str = "unbekannt";
/// Largest number of bytes per pixel a decoder of an accepted format produces (16-bit RGBA PNG).
const MAX_BYTES_PER_PIXEL: u64 = 8;
/// Allowance for the decoders' own buffers on top of the pixel buffer in `image::Limits`.
const DECODER_HEADROOM: u64 = 32 * 1024 * 1024;

/// Limits and sizes (from configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted upload in bytes.
    pub max_bytes: usize,
    /// Largest accepted image in megapixels (1 megapixel = 1 000 000 pixels).
    pub max_megapixels: u32,
    /// Long edge of the display image in pixels (images are never scaled up).
    pub display_edge: u32,
    /// Long edge of the thumbnail in pixels (never scaled up either).
    pub thumb_edge: u32,
}

/// A processed photo: JPEG bytes without any metadata.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The display image (JPEG, quality 82).
    pub display: Vec<u8>,
    /// The thumbnail, derived from the display image (JPEG, quality 75).
    pub thumb: Vec<u8>,
    /// Width of the display image in pixels.
    pub width: u32,
    /// Height of the display image in pixels.
    pub height: u32,
}

/// Why a photo was refused.
///
/// [`PhotoError::message`] gives the text for the citizen; `Display` is meant for logs.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PhotoError {
    /// The file is bigger than [`Limits::max_bytes`].
    #[error("file too large: {bytes} bytes, at most {max} bytes allowed")]
    TooLarge {
        /// Size of the upload in bytes.
        bytes: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The image header declares more pixels than [`Limits::max_megapixels`].
    #[error(
        "image too large: {width}x{height} pixels, at most {max_megapixels} megapixels allowed"
    )]
    TooManyPixels {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The limit in megapixels.
        max_megapixels: u32,
    },
    /// A HEIC/HEIF photo (the iPhone default); the citizen is asked for a JPEG.
    #[error("HEIC/HEIF image, JPEG required")]
    Heic,
    /// Any other format (GIF, TIFF, PDF, text, …).
    #[error("unsupported file type: {detected}")]
    Unsupported {
        /// What the file looks like, e.g. `"GIF"`, or `"unbekannt"` when not known.
        detected: String,
    },
    /// The file claims to be JPEG, PNG or `WebP` but cannot be decoded (or, for [`redact`], the
    /// request is invalid); the text is the technical reason.
    #[error("broken image: {0}")]
    Broken(String),
    /// The upload has no bytes at all.
    #[error("empty file")]
    Empty,
}

impl PhotoError {
    /// The message for the citizen, in German (`english == false`) or English, naming the file.
    #[must_use]
    pub fn message(&self, file_name: &str, english: bool) -> String {
        let name = display_name(file_name, english);
        let accepted = if english {
            "Please send photos as JPEG, PNG or WebP."
        } else {
            "Bitte senden Sie Fotos als JPEG, PNG oder WebP."
        };
        match self {
            Self::TooLarge { bytes, max } => {
                let to_u64 = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
                // Round the size up and the limit down, so a refused file never looks allowed.
                let size = format_tenths(to_u64(*bytes).div_ceil(100_000), english);
                let limit = format_tenths(to_u64(*max) / 100_000, english);
                if english {
                    format!(
                        "“{name}” is too large ({size} MB). At most {limit} MB per photo are \
                         allowed. Please reduce the size of the photo and send it again."
                    )
                } else {
                    format!(
                        "„{name}“ ist zu groß ({size} MB). Erlaubt sind höchstens {limit} MB pro \
                         Foto. Bitte verkleinern Sie das Foto und senden Sie es erneut."
                    )
                }
            }
            Self::TooManyPixels {
                width,
                height,
                max_megapixels,
            } => {
                let pixels = u64::from(*width) * u64::from(*height);
                let megapixels = format_tenths(pixels.div_ceil(100_000), english);
                if english {
                    format!(
                        "“{name}” has too many pixels ({width} × {height}, that is {megapixels} \
                         megapixels). At most {max_megapixels} megapixels are allowed. Please \
                         reduce the size of the photo and send it again."
                    )
                } else {
                    format!(
                        "„{name}“ hat zu viele Bildpunkte ({width} × {height}, das sind \
                         {megapixels} Megapixel). Erlaubt sind höchstens {max_megapixels} \
                         Megapixel. Bitte verkleinern Sie das Foto und senden Sie es erneut."
                    )
                }
            }
            Self::Heic => {
                if english {
                    format!(
                        "“{name}” is a HEIC photo (iPhone). Please send it as JPEG: in the iPhone \
                         settings under Camera → Formats choose “Most Compatible”, or share/export \
                         the photo before sending it."
                    )
                } else {
                    format!(
                        "„{name}“ ist ein HEIC-Foto (iPhone). Bitte senden Sie es als JPEG: In den \
                         iPhone-Einstellungen unter Kamera → Formate „Maximale Kompatibilität“ \
                         wählen, oder das Foto vor dem Senden teilen/exportieren."
                    )
                }
            }
            Self::Unsupported { detected } => {
                if detected == UNKNOWN {
                    if english {
                        format!("The format of “{name}” was not recognised. {accepted}")
                    } else {
                        format!("Das Format von „{name}“ wurde nicht erkannt. {accepted}")
                    }
                } else if detected == "Text" {
                    if english {
                        format!("“{name}” is a text file, not a photo. {accepted}")
                    } else {
                        format!("„{name}“ ist eine Textdatei, kein Foto. {accepted}")
                    }
                } else if english {
                    format!(
                        "“{name}” is a file in {detected} format, which we cannot accept. \
                         {accepted}"
                    )
                } else {
                    format!(
                        "„{name}“ ist eine Datei im Format {detected}. Dieses Format können wir \
                         leider nicht annehmen. {accepted}"
                    )
                }
            }
            Self::Broken(_) => {
                if english {
                    format!(
                        "“{name}” could not be read as an image; the file is damaged or \
                         incomplete. Please send the photo again."
                    )
                } else {
                    format!(
                        "„{name}“ konnte nicht als Bild gelesen werden; die Datei ist beschädigt \
                         oder unvollständig. Bitte senden Sie das Foto erneut."
                    )
                }
            }
            Self::Empty => {
                if english {
                    format!("“{name}” is empty. Please select the photo again.")
                } else {
                    format!("„{name}“ ist leer. Bitte wählen Sie das Foto erneut aus.")
                }
            }
        }
    }
}

/// The file name as shown in messages: last path component, no control characters, bounded
/// length, and a neutral word when nothing is left.
fn display_name(file_name: &str, english: bool) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        (if english { "photo" } else { "Foto" }).to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Formats a number given in tenths with one decimal (German: decimal comma).
fn format_tenths(tenths: u64, english: bool) -> String {
    let separator = if english { '.' } else { ',' };
    format!("{}{separator}{}", tenths / 10, tenths % 10)
}

/// A rectangle to black out, in fractions (0.0..=1.0) of the width and height of the image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    /// Left edge as a fraction of the width.
    pub x: f64,
    /// Top edge as a fraction of the height.
    pub y: f64,
    /// Width as a fraction of the image width.
    pub w: f64,
    /// Height as a fraction of the image height.
    pub h: f64,
}

/// The formats that are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepted {
    Jpeg,
    Png,
    WebP,
}

impl Accepted {
    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::WebP => ImageFormat::WebP,
        }
    }
}

/// Checks and processes one upload.
///
/// Sniffs the format from the bytes (JPEG, PNG and `WebP` are accepted, HEIC/HEIF and everything
/// else refused), refuses files over `max_bytes` and images whose header declares more than
/// `max_megapixels` (before decoding), decodes with `image::Limits` as a second line of defence,
/// applies the EXIF orientation, flattens transparency onto white, scales down so the long edge
/// is at most `display_edge` (Lanczos3) and encodes JPEG quality 82 (`display`); the thumbnail
/// (long edge at most `thumb_edge`, JPEG quality 75) is derived from the display image.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed, PhotoError> {
    let display = load_display(bytes, limits)?;
    finish(display, limits)
}

/// Staff black out areas (faces, number plates) before a photo is released.
///
/// Decodes the given JPEG (an earlier `display`), fills each rectangle (clamped to the image)
/// with solid black and returns new display and thumbnail JPEGs with the same size rules as
/// [`process`]. Rectangles that are not finite or have `w <= 0` or `h <= 0` are an error
/// ([`PhotoError::Broken`] with the reason).
pub fn redact(jpeg: &[u8], rects: &[Rect], limits: &Limits) -> Result<Processed, PhotoError> {
    for (index, rect) in rects.iter().enumerate() {
        let finite = [rect.x, rect.y, rect.w, rect.h]
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Err(PhotoError::Broken(format!(
                "rectangle {index} has a coordinate that is not a finite number"
            )));
        }
        if rect.w <= 0.0 || rect.h <= 0.0 {
            return Err(PhotoError::Broken(format!(
                "rectangle {index} has no area (w = {}, h = {})",
                rect.w, rect.h
            )));
        }
    }
    if !jpeg.is_empty() {
        let format = sniff(jpeg)?;
        if format != Accepted::Jpeg {
            return Err(PhotoError::Broken(format!(
                "redaction expects a JPEG, got {format:?}"
            )));
        }
    }
    let mut display = load_display(jpeg, limits)?;
    // The rectangles are fractions, so they apply to the display size just as to the original;
    // filling after scaling keeps the edges of the black areas sharp.
    for rect in rects {
        black_out(&mut display, rect);
    }
    finish(display, limits)
}

/// Fills `rect` (fractions, clamped to the image) with black. The pixel bounds are rounded
/// outwards so that the area is covered completely.
fn black_out(image: &mut RgbImage, rect: &Rect) {
    let (width, height) = image.dimensions();
    let (x0, x1) = pixel_span(rect.x, rect.w, width);
    let (y0, y1) = pixel_span(rect.y, rect.h, height);
    for y in y0..y1 {
        for x in x0..x1 {
            image.put_pixel(x, y, image::Rgb([0, 0, 0]));
        }
    }
}

/// Converts a span in fractions to pixel bounds `start..end`, clamped to `0..=len`.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the values are clamped to 0..=len before the conversion"
)]
fn pixel_span(start: f64, extent: f64, len: u32) -> (u32, u32) {
    let len_f = f64::from(len);
    let from = (start.clamp(0.0, 1.0) * len_f).floor().clamp(0.0, len_f) as u32;
    let to = ((start + extent).clamp(0.0, 1.0) * len_f)
        .ceil()
        .clamp(0.0, len_f) as u32;
    (from, to.max(from))
}

/// Sniffs, checks and decodes `bytes` and returns the upright display-size image.
///
/// Memory: the full-size image exists once (plus the decoder's own buffers); it is scaled down
/// before the orientation is applied, so rotating only ever copies the small image, and it is
/// dropped as soon as the display image exists.
fn load_display(bytes: &[u8], limits: &Limits) -> Result<RgbImage, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    let format = sniff(bytes)?;
    if bytes.len() > limits.max_bytes {
        return Err(PhotoError::TooLarge {
            bytes: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let (width, height) = header_dimensions(format, bytes)?;
    check_pixels(width, height, limits.max_megapixels)?;

    // The long edge does not change under rotation, so scaling before orienting is equivalent.
    let (target_w, target_h) = fit_within(width, height, limits.display_edge);
    let scaled = match format {
        Accepted::Jpeg => decode_jpeg_scaled(bytes, target_w, target_h),
        Accepted::Png | Accepted::WebP => None,
    };
    let (decoded, orientation) = if let Some(done) = scaled {
        done
    } else {
        let (decoded, orientation) = decode(bytes, format, limits.max_megapixels)?;
        (flatten_onto_white(decoded)?, orientation)
    };
    // A DCT scale may come out a little under the target: never scale up.
    let (target_w, target_h) = if decoded.width() < target_w || decoded.height() < target_h {
        decoded.dimensions()
    } else {
        (target_w, target_h)
    };
    let display = resize(decoded, target_w, target_h)?;
    Ok(orient(display, orientation))
}

/// Decodes a JPEG at the smallest of its DCT scales (1/8, 1/4 or 1/2) that covers 15/16 of
/// `width` × `height`: a 12-megapixel photo (4000 × 3000) for a 2048-pixel display image is
/// decoded at half size (2000 × 1500, the display size then), with a quarter of the memory and
/// of the time. `None` (and the full decoder takes over) when no smaller scale fits, and for what
/// this decoder does not turn into RGB itself (CMYK, 16 bits) or cannot read; the pixel limit was
/// checked on the header before.
fn decode_jpeg_scaled(bytes: &[u8], width: u32, height: u32) -> Option<(RgbImage, Orientation)> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8
    ) {
        return None;
    }
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let at_least = |edge: u32| u16::try_from((edge * 15 / 16).max(1)).ok();
    let (w, h) = decoder.scale(at_least(width)?, at_least(height)?).ok()?;
    if (w, h) == (info.width, info.height) {
        return None;
    }
    let pixels = decoder.decode().ok()?;
    let (w, h) = (u32::from(w), u32::from(h));
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            let gray = image::GrayImage::from_raw(w, h, pixels)?;
            DynamicImage::ImageLuma8(gray).into_rgb8()
        }
        _ => RgbImage::from_raw(w, h, pixels)?,
    };
    Some((rgb, orientation))
}

/// Encodes the display image and derives and encodes the thumbnail.
fn finish(display: RgbImage, limits: &Limits) -> Result<Processed, PhotoError> {
    let (width, height) = display.dimensions();
    let display_jpeg = encode_jpeg(&display, DISPLAY_QUALITY)?;
    let (thumb_w, thumb_h) = fit_within(width, height, limits.thumb_edge);
    let thumb = resize(display, thumb_w, thumb_h)?;
    let thumb_jpeg = encode_jpeg(&thumb, THUMB_QUALITY)?;
    tracing::debug!(
        width,
        height,
        display_bytes = display_jpeg.len(),
        thumb_bytes = thumb_jpeg.len(),
        "photo processed"
    );
    Ok(Processed {
        display: display_jpeg,
        thumb: thumb_jpeg,
        width,
        height,
    })
}

/// The pixel limit as a pixel count.
fn max_pixels(max_megapixels: u32) -> u64 {
    u64::from(max_megapixels) * 1_000_000
}

fn check_pixels(width: u32, height: u32, max_megapixels: u32) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Broken(format!(
            "the header declares an empty image ({width}x{height})"
        )));
    }
    if u64::from(width) * u64::from(height) > max_pixels(max_megapixels) {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max_megapixels,
        });
    }
    Ok(())
}

/// Recognises the format from the first bytes.
fn sniff(bytes: &[u8]) -> Result<Accepted, PhotoError> {
    let unsupported = |detected: &str| {
        Err(PhotoError::Unsupported {
            detected: detected.to_owned(),
        })
    };
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Accepted::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Accepted::Png);
    }
    if bytes.starts_with(b"RIFF") && bytes.len() >= 12 {
        return match &bytes[8..12] {
            b"WEBP" => Ok(Accepted::WebP),
            b"AVI " => unsupported("AVI"),
            b"WAVE" => unsupported("WAV"),
            _ => unsupported("RIFF"),
        };
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return iso_bmff(bytes);
    }
    let detected = if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "GIF"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "TIFF"
    } else if bytes.starts_with(b"%PDF") {
        "PDF"
    } else if bytes.starts_with(b"BM") && bytes.get(6..10) == Some(&[0; 4]) {
        // The reserved bytes after the file size are zero (rules out text starting with "BM").
        "BMP"
    } else if bytes.starts_with(b"8BPS\0\x01") {
        "PSD"
    } else if bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        "JPEG XL"
    } else if bytes.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") {
        "JPEG 2000"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "ZIP"
    } else if bytes.starts_with(&[0, 0, 1, 0]) && bytes.len() >= 22 {
        "ICO"
    } else if let Some(kind) = text_kind(bytes) {
        kind
    } else {
        UNKNOWN
    };
    unsupported(detected)
}

/// HEIF family (HEIC, AVIF, …) and other ISO-BMFF files, told apart by the `ftyp` brands.
fn iso_bmff(bytes: &[u8]) -> Result<Accepted, PhotoError> {
    const HEIF: [&[u8]; 11] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
        b"mif2",
    ];
    const AVIF: [&[u8]; 2] = [b"avif", b"avis"];
    let avif = || PhotoError::Unsupported {
        detected: "AVIF".to_owned(),
    };
    let major = &bytes[8..12];
    if AVIF.contains(&major) {
        return Err(avif());
    }
    if HEIF.contains(&major) {
        return Err(PhotoError::Heic);
    }
    // Compatible brands follow the minor version, up to the end of the box.
    let box_len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let end = usize::try_from(box_len)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let brands: Vec<&[u8]> = bytes
        .get(16..end)
        .unwrap_or_default()
        .chunks_exact(4)
        .collect();
    if brands.iter().any(|brand| AVIF.contains(brand)) {
        return Err(avif());
    }
    if brands.iter().any(|brand| HEIF.contains(brand)) {
        return Err(PhotoError::Heic);
    }
    Err(PhotoError::Unsupported {
        detected: "MP4/MOV".to_owned(),
    })
}

/// Recognises text files (including SVG and HTML) by their first bytes.
fn text_kind(bytes: &[u8]) -> Option<&'static str> {
    let sample = &bytes[..bytes.len().min(512)];
    let text = match std::str::from_utf8(sample) {
        Ok(text) => text,
        // A multi-byte character cut off by the sample boundary is fine.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&sample[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
    {
        return None;
    }
    let start = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    Some(
        if start.starts_with("<svg") || (start.starts_with("<?xml") && start.contains("<svg")) {
            "SVG"
        } else if start.starts_with("<!doctype html") || start.starts_with("<html") {
            "HTML"
        } else if start.starts_with("<?xml") {
            "XML"
        } else {
            "Text"
        },
    )
}

/// Reads width and height from the header of an accepted format, without decoding.
fn header_dimensions(format: Accepted, bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    match format {
        Accepted::Jpeg => jpeg_dimensions(bytes),
        Accepted::Png => png_dimensions(bytes),
        Accepted::WebP => webp_dimensions(bytes),
    }
}

fn truncated_header(format: &str) -> PhotoError {
    PhotoError::Broken(format!("{format} header is truncated"))
}

/// Walks the JPEG marker segments up to the first frame header (`SOFn`).
fn jpeg_dimensions(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    let mut pos = 2;
    loop {
        // Skip to the next marker; fill bytes (0xFF) may precede it.
        while bytes.get(pos).is_some_and(|&b| b != 0xFF) {
            pos += 1;
        }
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *bytes.get(pos).ok_or_else(|| truncated_header("JPEG"))?;
        pos += 1;
        match marker {
            // Markers without a length.
            0x00 | 0x01 | 0xD0..=0xD8 => {}
            0xD9 | 0xDA => {
                return Err(PhotoError::Broken(
                    "JPEG has no frame header before the image data".to_owned(),
                ));
            }
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let frame = bytes
                    .get(pos..pos + 7)
                    .ok_or_else(|| truncated_header("JPEG"))?;
                let height = u16::from_be_bytes([frame[3], frame[4]]);
                let width = u16::from_be_bytes([frame[5], frame[6]]);
                return Ok((u32::from(width), u32::from(height)));
            }
            _ => {
                let length = bytes
                    .get(pos..pos + 2)
                    .ok_or_else(|| truncated_header("JPEG"))?;
                let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
                if length < 2 {
                    return Err(PhotoError::Broken(
                        "JPEG segment with an invalid length".to_owned(),
                    ));
                }
                pos += length;
            }
        }
    }
}

/// Width and height from the PNG `IHDR` chunk, which must come first.
fn png_dimensions(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    let header = bytes.get(12..24).ok_or_else(|| truncated_header("PNG"))?;
    if &header[..4] != b"IHDR" {
        return Err(PhotoError::Broken(
            "PNG does not start with an IHDR chunk".to_owned(),
        ));
    }
    let width = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let height = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    Ok((width, height))
}

/// Width and height from the first `WebP` chunk (`VP8 `, `VP8L` or `VP8X`).
fn webp_dimensions(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    let chunk = bytes.get(12..16).ok_or_else(|| truncated_header("WebP"))?;
    let data = |len: usize| {
        bytes
            .get(20..20 + len)
            .ok_or_else(|| truncated_header("WebP"))
    };
    match chunk {
        b"VP8 " => {
            // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
            let frame = data(10)?;
            if frame[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(PhotoError::Broken(
                    "WebP (VP8) without a valid start code".to_owned(),
                ));
            }
            let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3FFF;
            let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3FFF;
            Ok((u32::from(width), u32::from(height)))
        }
        b"VP8L" => {
            // Signature 0x2F, then width - 1 and height - 1 in 14 bits each.
            let header = data(5)?;
            if header[0] != 0x2F {
                return Err(PhotoError::Broken(
                    "WebP (VP8L) without a valid signature".to_owned(),
                ));
            }
            let bits = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            // Flags (4 bytes), then canvas width - 1 and height - 1 in 24 bits each.
            let header = data(10)?;
            let width = u32::from_le_bytes([header[4], header[5], header[6], 0]) + 1;
            let height = u32::from_le_bytes([header[7], header[8], header[9], 0]) + 1;
            Ok((width, height))
        }
        _ => Err(PhotoError::Broken(
            "WebP with an unknown first chunk".to_owned(),
        )),
    }
}

/// `image::Limits` consistent with the pixel limit: no side longer than the pixel count allows
/// and an allocation budget for the largest pixel buffer an accepted format can produce.
fn decoder_limits(max_pixels: u64) -> image::Limits {
    let mut limits = image::Limits::default();
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(
        max_pixels
            .saturating_mul(MAX_BYTES_PER_PIXEL)
            .saturating_add(DECODER_HEADROOM),
    );
    limits
}

/// Decodes the image and reads its orientation. The pixel limit is checked once more against the
/// decoder's own idea of the dimensions, and `image::Limits` guard the decoder itself.
fn decode(
    bytes: &[u8],
    format: Accepted,
    max_megapixels: u32,
) -> Result<(DynamicImage, Orientation), PhotoError> {
    let max_pixels = max_pixels(max_megapixels);
    let limits = decoder_limits(max_pixels);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits.clone());
    let mut decoder = reader
        .into_decoder()
        .map_err(|error| image_error(&error, None, max_megapixels))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max_megapixels,
        });
    }
    let dims = Some((width, height));
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut budget = limits;
    budget
        .reserve(decoder.total_bytes())
        .map_err(|error| image_error(&error, dims, max_megapixels))?;
    decoder
        .set_limits(budget)
        .map_err(|error| image_error(&error, dims, max_megapixels))?;
    let image = DynamicImage::from_decoder(decoder)
        .map_err(|error| image_error(&error, dims, max_megapixels))?;
    Ok((image, orientation))
}

/// Maps a decoder error: limits become [`PhotoError::TooManyPixels`] (when the dimensions are
/// known), everything else [`PhotoError::Broken`].
fn image_error(error: &ImageError, dims: Option<(u32, u32)>, max_megapixels: u32) -> PhotoError {
    match (error, dims) {
        (ImageError::Limits(_), Some((width, height))) => PhotoError::TooManyPixels {
            width,
            height,
            max_megapixels,
        },
        _ => PhotoError::Broken(error.to_string()),
    }
}

/// Converts to RGB8; transparent pixels are composited onto white. An RGBA8 buffer is converted
/// in place (no second full-size buffer).
fn flatten_onto_white(image: DynamicImage) -> Result<RgbImage, PhotoError> {
    if !image.color().has_alpha() {
        return Ok(image.into_rgb8());
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut buffer = rgba.into_raw();
    let pixels = buffer.len() / 4;
    for index in 0..pixels {
        let source = index * 4;
        let alpha = u16::from(buffer[source + 3]);
        let channels = [buffer[source], buffer[source + 1], buffer[source + 2]];
        for (offset, channel) in channels.into_iter().enumerate() {
            let value = (u16::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            // Writes land at or before the pixel just read, never on unread data.
            buffer[index * 3 + offset] = u8::try_from(value).unwrap_or(u8::MAX);
        }
    }
    buffer.truncate(pixels * 3);
    RgbImage::from_raw(width, height, buffer)
        .ok_or_else(|| PhotoError::Broken("pixel buffer has the wrong size".to_owned()))
}

/// Size that fits into a square of `edge` pixels, keeping the aspect ratio; never larger than
/// the original.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the rounded value lies in 1..=edge"
)]
fn fit_within(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let edge = edge.max(1);
    let long = width.max(height);
    if long <= edge {
        return (width, height);
    }
    let scale = f64::from(edge) / f64::from(long);
    let short = |side: u32| {
        (f64::from(side) * scale)
            .round()
            .clamp(1.0, f64::from(edge)) as u32
    };
    if width >= height {
        (edge, short(height))
    } else {
        (short(width), edge)
    }
}

/// Applies the EXIF orientation.
fn orient(image: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return image;
    }
    let mut dynamic = DynamicImage::ImageRgb8(image);
    dynamic.apply_orientation(orientation);
    dynamic.into_rgb8()
}

fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .map_err(|error| PhotoError::Broken(format!("JPEG encoding failed: {error}")))?;
    Ok(out)
}

/// The Lanczos3 kernel.
fn lanczos3(x: f64) -> f64 {
    let x = x.abs();
    if x < 1e-9 {
        1.0
    } else if x < 3.0 {
        let px = PI * x;
        3.0 * px.sin() * (px / 3.0).sin() / (px * px)
    } else {
        0.0
    }
}

/// Filter taps of one output sample: the first input index and the normalised weights.
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

/// Lanczos3 taps for resampling `in_len` samples to `out_len` (the kernel is widened when
/// scaling down, so that every input sample contributes).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "image sides are far below 2^52 and the bounds are clamped before converting"
)]
fn filter_taps(in_len: usize, out_len: usize) -> Vec<Taps> {
    let scale = in_len as f64 / out_len as f64;
    let filter_scale = scale.max(1.0);
    let support = 3.0 * filter_scale;
    (0..out_len)
        .map(|index| {
            let center = (index as f64 + 0.5) * scale;
            let start = (center - support).floor().max(0.0) as usize;
            let end = ((center + support).ceil().max(0.0) as usize).min(in_len);
            let start = start.min(end.saturating_sub(1));
            let raw: Vec<f64> = (start..end)
                .map(|source| lanczos3((source as f64 + 0.5 - center) / filter_scale))
                .collect();
            let sum: f64 = raw.iter().sum();
            let weights = if sum.abs() > 1e-9 {
                raw.iter().map(|weight| (weight / sum) as f32).collect()
            } else {
                // Cannot happen with Lanczos3 (the nearest sample has a large weight); fall back
                // to the nearest sample.
                let mut weights = vec![0.0; raw.len()];
                if let Some(first) = weights.first_mut() {
                    *first = 1.0;
                }
                weights
            };
            Taps { start, weights }
        })
        .collect()
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the value is clamped to 0..=255"
)]
fn to_u8(value: f32) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

/// Resamples every row of an RGB8 buffer from `width` to `out_width` pixels.
fn resample_rows(source: &[u8], width: usize, out_width: usize) -> Vec<u8> {
    let taps = filter_taps(width, out_width);
    let rows = source.len() / (width * 3);
    let mut out = vec![0_u8; out_width * 3 * rows];
    for (row, out_row) in source
        .chunks_exact(width * 3)
        .zip(out.chunks_exact_mut(out_width * 3))
    {
        for (tap, pixel) in taps.iter().zip(out_row.chunks_exact_mut(3)) {
            let mut acc = [0.0_f32; 3];
            let inputs = row[tap.start * 3..].chunks_exact(3);
            for (weight, input) in tap.weights.iter().zip(inputs) {
                for (sum, &value) in acc.iter_mut().zip(input) {
                    *sum += weight * f32::from(value);
                }
            }
            for (target, sum) in pixel.iter_mut().zip(acc) {
                *target = to_u8(sum);
            }
        }
    }
    out
}

/// Resamples the columns of an RGB8 buffer (rows of `row_len` bytes) from `height` to
/// `out_height` rows; works row by row for cache friendliness.
fn resample_columns(source: &[u8], row_len: usize, height: usize, out_height: usize) -> Vec<u8> {
    let taps = filter_taps(height, out_height);
    let mut out = vec![0_u8; row_len * out_height];
    let mut acc = vec![0.0_f32; row_len];
    for (tap, out_row) in taps.iter().zip(out.chunks_exact_mut(row_len)) {
        acc.fill(0.0);
        let rows = source[tap.start * row_len..].chunks_exact(row_len);
        for (weight, row) in tap.weights.iter().zip(rows) {
            for (sum, &value) in acc.iter_mut().zip(row) {
                *sum += weight * f32::from(value);
            }
        }
        for (target, &sum) in out_row.iter_mut().zip(&acc) {
            *target = to_u8(sum);
        }
    }
    out
}

/// Resizes with a separable Lanczos3 filter.
///
/// Unlike `image::imageops::resize` (whose intermediate image is RGBA `f32`, 16 bytes per
/// pixel) the intermediate here is RGB8 at the new width, and the source is dropped as soon as
/// the first pass is done.
fn resize(image: RgbImage, width: u32, height: u32) -> Result<RgbImage, PhotoError> {
    let (in_width, in_height) = image.dimensions();
    if (in_width, in_height) == (width, height) {
        return Ok(image);
    }
    let to_usize = |value: u32| usize::try_from(value).unwrap_or(usize::MAX);
    let raw = image.into_raw();
    let rows = if width == in_width {
        raw
    } else {
        let rows = resample_rows(&raw, to_usize(in_width), to_usize(width));
        drop(raw);
        rows
    };
    let out = if height == in_height {
        rows
    } else {
        resample_columns(
            &rows,
            to_usize(width) * 3,
            to_usize(in_height),
            to_usize(height),
        )
    };
    RgbImage::from_raw(width, height, out)
        .ok_or_else(|| PhotoError::Broken("resized buffer has the wrong size".to_owned()))
}

/// Bounded concurrency for the CPU work: at most `n` photos are decoded/encoded at once, on
/// tokio's blocking threads, never on the async workers.
#[derive(Debug, Clone)]
pub struct Workers {
    slots: Arc<Semaphore>,
}

impl Workers {
    /// Allows `n` photos to be processed at once (at least one).
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }

    /// Runs [`process`] for one upload on a blocking thread once a slot is free.
    pub async fn process(
        &self,
        bytes: bytes::Bytes,
        limits: Limits,
    ) -> Result<Processed, PhotoError> {
        self.run(move || process(&bytes, &limits)).await
    }

    /// Runs [`redact`] on a blocking thread once a slot is free.
    pub async fn redact(
        &self,
        jpeg: Vec<u8>,
        rects: Vec<Rect>,
        limits: Limits,
    ) -> Result<Processed, PhotoError> {
        self.run(move || redact(&jpeg, &rects, &limits)).await
    }

    async fn run<F>(&self, job: F) -> Result<Processed, PhotoError>
    where
        F: FnOnce() -> Result<Processed, PhotoError> + Send + 'static,
    {
        let failed = || PhotoError::Broken("processing failed".to_owned());
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| failed())?;
        // The permit moves into the blocking task: if the caller goes away, the slot stays taken
        // until the work has really finished.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "photo processing task failed");
            failed()
        })?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use image::codecs::png::PngEncoder;
    use image::codecs::webp::WebPEncoder;
    use image::{ExtendedColorType, ImageEncoder, Rgb, Rgba, RgbaImage};

    use super::*;

    const COMMENT_MARKER: &[u8] = b"STADTKARTE-COMMENT-MARKER Musterstrasse 12";
    const XMP_MARKER: &[u8] = b"STADTKARTE-XMP-MARKER";

    fn limits() -> Limits {
        Limits {
            max_bytes: 20_000_000,
            max_megapixels: 50,
            display_edge: 2048,
            thumb_edge: 320,
        }
    }

    fn jpeg(image: &RgbImage) -> Vec<u8> {
        encode_jpeg(image, 95).expect("test JPEG encodes")
    }

    fn png(image: &RgbaImage) -> Vec<u8> {
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                ExtendedColorType::Rgba8,
            )
            .expect("test PNG encodes");
        out
    }

    fn decode_jpeg(bytes: &[u8]) -> RgbImage {
        image::load_from_memory_with_format(bytes, ImageFormat::Jpeg)
            .expect("output is a valid JPEG")
            .into_rgb8()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    }

    fn near(pixel: Rgb<u8>, expected: [u8; 3], tolerance: u8) -> bool {
        pixel
            .0
            .iter()
            .zip(expected)
            .all(|(&actual, expected)| actual.abs_diff(expected) <= tolerance)
    }

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let length = u16::try_from(payload.len() + 2).expect("segment is small");
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Markers of all segments before the scan data.
    fn markers_before_scan(jpeg: &[u8]) -> Vec<u8> {
        let mut markers = Vec::new();
        let mut pos = 2;
        while let Some(header) = jpeg.get(pos..pos + 4) {
            assert_eq!(header[0], 0xFF, "a segment starts at {pos}");
            markers.push(header[1]);
            if header[1] == 0xDA {
                break;
            }
            pos += 2 + usize::from(u16::from_be_bytes([header[2], header[3]]));
        }
        markers
    }

    /// `GPSLatitude` 50° 21' 12.34" as three little-endian rationals.
    fn gps_latitude() -> Vec<u8> {
        [50_u32, 1, 21, 1, 1234, 100]
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect()
    }

    fn ifd_entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value);
    }

    /// An APP1 Exif payload: little-endian TIFF, IFD0 with Orientation = 6 and a GPS IFD
    /// pointer, the GPS IFD with `GPSLatitudeRef` and `GPSLatitude`.
    fn exif_payload() -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"II*\0");
        tiff.extend_from_slice(&8_u32.to_le_bytes());
        tiff.extend_from_slice(&2_u16.to_le_bytes());
        ifd_entry(&mut tiff, 0x0112, 3, 1, [6, 0, 0, 0]);
        ifd_entry(&mut tiff, 0x8825, 4, 1, 38_u32.to_le_bytes());
        tiff.extend_from_slice(&0_u32.to_le_bytes());
        assert_eq!(tiff.len(), 38, "GPS IFD offset");
        tiff.extend_from_slice(&2_u16.to_le_bytes());
        ifd_entry(&mut tiff, 0x0001, 2, 2, [b'N', 0, 0, 0]);
        ifd_entry(&mut tiff, 0x0002, 5, 3, 68_u32.to_le_bytes());
        tiff.extend_from_slice(&0_u32.to_le_bytes());
        assert_eq!(tiff.len(), 68, "GPS value offset");
        tiff.extend_from_slice(&gps_latitude());
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        payload
    }

    fn xmp_payload() -> Vec<u8> {
        let mut payload = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
        payload.extend_from_slice(
            b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF \
              xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description \
              xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmp:CreatorTool=\"",
        );
        payload.extend_from_slice(XMP_MARKER);
        payload.extend_from_slice(b"\"/></rdf:RDF></x:xmpmeta>");
        payload
    }

    /// Inserts the Exif, XMP and comment segments right after SOI.
    fn with_metadata(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        out.extend(segment(0xE1, &exif_payload()));
        out.extend(segment(0xE1, &xmp_payload()));
        out.extend(segment(0xFE, COMMENT_MARKER));
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFF_u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
        !crc
    }

    /// A real 1×1 PNG whose IHDR is patched to claim `width`×`height` (with a valid CRC).
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(&RgbaImage::from_pixel(1, 1, Rgba([1, 2, 3, 255])));
        assert_eq!(&bytes[12..16], b"IHDR", "IHDR comes first");
        let stored = u32::from_be_bytes([bytes[29], bytes[30], bytes[31], bytes[32]]);
        assert_eq!(crc32(&bytes[12..29]), stored, "the test CRC32 is correct");
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn assert_clean(jpeg: &[u8]) {
        for marker in markers_before_scan(jpeg) {
            assert!(
                !(0xE1..=0xEF).contains(&marker) && marker != 0xFE,
                "unexpected segment 0xFF{marker:02X} in the output"
            );
        }
        assert!(!contains(jpeg, b"Exif"), "no Exif");
        assert!(!contains(jpeg, b"http://ns.adobe.com/xap"), "no XMP");
        assert!(!contains(jpeg, XMP_MARKER), "no XMP content");
        assert!(!contains(jpeg, COMMENT_MARKER), "no comment");
        assert!(!contains(jpeg, &gps_latitude()), "no GPS data");
        assert!(!contains(jpeg, b"ICC_PROFILE"), "no ICC profile");
    }

    #[test]
    fn strips_metadata_and_applies_orientation() {
        // 400×200, grey, red block top left, green block top right.
        let mut source = RgbImage::from_pixel(400, 200, Rgb([128, 128, 128]));
        for y in 0..60 {
            for x in 0..60 {
                source.put_pixel(x, y, Rgb([255, 0, 0]));
                source.put_pixel(399 - x, y, Rgb([0, 255, 0]));
            }
        }
        let input = with_metadata(&jpeg(&source));
        assert!(contains(&input, b"Exif") && contains(&input, COMMENT_MARKER));
        assert!(contains(&input, &gps_latitude()) && contains(&input, XMP_MARKER));

        let out = process(&input, &limits()).expect("photo with metadata is accepted");
        assert_clean(&out.display);
        assert_clean(&out.thumb);

        // Orientation 6: rotate 90° clockwise; top left goes to top right, top right to
        // bottom right.
        assert_eq!((out.width, out.height), (200, 400));
        let display = decode_jpeg(&out.display);
        assert_eq!(display.dimensions(), (200, 400));
        assert!(
            near(*display.get_pixel(185, 15), [255, 0, 0], 40),
            "red top right"
        );
        assert!(
            near(*display.get_pixel(185, 385), [0, 255, 0], 40),
            "green bottom right"
        );
        assert!(
            near(*display.get_pixel(15, 15), [128, 128, 128], 20),
            "grey top left"
        );
        assert!(
            near(*display.get_pixel(15, 385), [128, 128, 128], 20),
            "grey bottom left"
        );
        assert_eq!(decode_jpeg(&out.thumb).dimensions(), (160, 320));
    }

    #[test]
    fn png_alpha_is_composited_onto_white() {
        let mut source = RgbaImage::from_pixel(64, 32, Rgba([255, 0, 0, 0]));
        for y in 0..32 {
            for x in 32..64 {
                source.put_pixel(x, y, Rgba([0, 0, 255, 255]));
            }
        }
        let out = process(&png(&source), &limits()).expect("PNG is accepted");
        assert_clean(&out.display);
        let display = decode_jpeg(&out.display);
        assert_eq!(display.dimensions(), (64, 32));
        assert!(
            near(*display.get_pixel(8, 16), [255, 255, 255], 12),
            "white background"
        );
        assert!(
            near(*display.get_pixel(56, 16), [0, 0, 255], 40),
            "opaque blue"
        );
    }

    #[test]
    fn half_transparent_pixels_are_blended() {
        let source = DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 1, Rgba([0, 0, 0, 128])));
        let flat = flatten_onto_white(source).expect("flattens");
        assert_eq!(flat.dimensions(), (2, 1));
        assert!(near(*flat.get_pixel(1, 0), [127, 127, 127], 1));
    }

    #[test]
    fn webp_is_accepted() {
        let source = RgbImage::from_pixel(64, 32, Rgb([20, 160, 60]));
        let mut webp = Vec::new();
        WebPEncoder::new_lossless(&mut webp)
            .encode(source.as_raw(), 64, 32, ExtendedColorType::Rgb8)
            .expect("test WebP encodes");
        assert_eq!(webp_dimensions(&webp), Ok((64, 32)));
        let out = process(&webp, &limits()).expect("WebP is accepted");
        let display = decode_jpeg(&out.display);
        assert_eq!(display.dimensions(), (64, 32));
        assert!(near(*display.get_pixel(32, 16), [20, 160, 60], 12));
    }

    #[test]
    fn webp_headers_are_read_without_decoding() {
        let mut lossy = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0".to_vec();
        lossy.extend_from_slice(&[0, 0, 0, 0x9D, 0x01, 0x2A]);
        lossy.extend_from_slice(&4000_u16.to_le_bytes());
        lossy.extend_from_slice(&3000_u16.to_le_bytes());
        assert_eq!(webp_dimensions(&lossy), Ok((4000, 3000)));

        let mut extended = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0".to_vec();
        extended.extend_from_slice(&[0, 0, 0, 0]);
        extended.extend_from_slice(&[0x5F, 0xEA, 0x00]); // 59999
        extended.extend_from_slice(&[0x5F, 0xEA, 0x00]);
        assert_eq!(webp_dimensions(&extended), Ok((60_000, 60_000)));
        assert!(matches!(
            process(&extended, &limits()),
            Err(PhotoError::TooManyPixels {
                width: 60_000,
                height: 60_000,
                ..
            })
        ));
    }

    #[test]
    fn jpeg_header_gives_dimensions() {
        let bytes = with_metadata(&jpeg(&RgbImage::new(123, 45)));
        assert_eq!(jpeg_dimensions(&bytes), Ok((123, 45)));
    }

    #[test]
    fn large_images_are_scaled_down() {
        let mut source = RgbImage::from_pixel(3000, 1000, Rgb([200, 100, 50]));
        for y in 0..1000 {
            for x in 1500..3000 {
                source.put_pixel(x, y, Rgb([20, 40, 220]));
            }
        }
        let out = process(&jpeg(&source), &limits()).expect("large photo is accepted");
        assert_eq!(out.width, 2048);
        assert!(out.height.abs_diff(683) <= 1, "height {}", out.height);
        let display = decode_jpeg(&out.display);
        assert_eq!(display.dimensions(), (out.width, out.height));
        assert!(near(*display.get_pixel(500, 340), [200, 100, 50], 10));
        assert!(near(*display.get_pixel(1500, 340), [20, 40, 220], 10));
        let thumb = decode_jpeg(&out.thumb);
        assert_eq!(thumb.width(), 320);
        assert!(
            thumb.height().abs_diff(107) <= 1,
            "thumb height {}",
            thumb.height()
        );
        assert_clean(&out.thumb);
    }

    #[test]
    fn big_jpegs_are_decoded_at_a_dct_scale() {
        let mut source = RgbImage::from_pixel(4400, 1800, Rgb([200, 100, 50]));
        for y in 0..1800 {
            for x in 2200..4400 {
                source.put_pixel(x, y, Rgb([20, 40, 220]));
            }
        }
        let bytes = jpeg(&source);
        let (w, h) = fit_within(4400, 1800, 2048);
        let (half, orientation) =
            decode_jpeg_scaled(&bytes, w, h).expect("an RGB JPEG decodes at a DCT scale");
        assert_eq!(half.dimensions(), (2200, 900), "half size covers {w}x{h}");
        assert_eq!(orientation, Orientation::NoTransforms);
        let out = process(&bytes, &limits()).expect("big photo is accepted");
        assert_eq!((out.width, out.height), (w, h));
        let display = decode_jpeg(&out.display);
        assert!(near(*display.get_pixel(500, 400), [200, 100, 50], 10));
        assert!(near(*display.get_pixel(1500, 400), [20, 40, 220], 10));
        // 4000 × 3000 at half size falls 48 pixels short of 2048: the display image stays
        // 2000 × 1500 (not scaled up); at 3000 × 1000 no smaller scale fits.
        let photo = jpeg(&RgbImage::from_pixel(4000, 3000, Rgb([90, 160, 30])));
        let out = process(&photo, &limits()).expect("12-megapixel photo is accepted");
        assert_eq!((out.width, out.height), (2000, 1500));
        assert!(decode_jpeg_scaled(&jpeg(&RgbImage::new(3000, 1000)), 2048, 683).is_none());
    }

    #[test]
    fn small_images_are_not_scaled_up() {
        let source = RgbImage::from_pixel(100, 50, Rgb([1, 2, 3]));
        let out = process(&jpeg(&source), &limits()).expect("small photo is accepted");
        assert_eq!((out.width, out.height), (100, 50));
        assert_eq!(decode_jpeg(&out.display).dimensions(), (100, 50));
        assert_eq!(decode_jpeg(&out.thumb).dimensions(), (100, 50));
    }

    #[test]
    fn resize_keeps_flat_colours_and_sizes() {
        let source = RgbImage::from_pixel(301, 97, Rgb([7, 130, 254]));
        let resized = resize(source, 100, 32).expect("resizes");
        assert_eq!(resized.dimensions(), (100, 32));
        assert!(resized.pixels().all(|pixel| near(*pixel, [7, 130, 254], 1)));
        assert_eq!(fit_within(3000, 1000, 2048), (2048, 683));
        assert_eq!(fit_within(1000, 3000, 2048), (683, 2048));
        assert_eq!(fit_within(100, 50, 2048), (100, 50));
        assert_eq!(fit_within(10_000, 1, 320), (320, 1));
    }

    #[test]
    fn heic_and_avif_are_recognised() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0";
        assert_eq!(process(heic, &limits()).err(), Some(PhotoError::Heic));
        let compatible = b"\0\0\0\x18ftypXXXX\0\0\0\0isommif1\0\0\0\0";
        assert_eq!(process(compatible, &limits()).err(), Some(PhotoError::Heic));
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf\0\0\0\0";
        assert_eq!(
            process(avif, &limits()).err(),
            Some(PhotoError::Unsupported {
                detected: "AVIF".to_owned()
            })
        );
        let mp4 = b"\0\0\0\x18ftypisom\0\0\0\0isomavc1\0\0\0\0";
        assert!(matches!(
            process(mp4, &limits()),
            Err(PhotoError::Unsupported { detected }) if detected == "MP4/MOV"
        ));
    }

    #[test]
    fn other_formats_are_unsupported() {
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04";
        assert_eq!(
            process(gif, &limits()).err(),
            Some(PhotoError::Unsupported {
                detected: "GIF".to_owned()
            })
        );
        assert_eq!(
            process(
                b"Schlagloch in der Hauptstrasse, bitte reparieren!",
                &limits()
            )
            .err(),
            Some(PhotoError::Unsupported {
                detected: "Text".to_owned()
            })
        );
        assert_eq!(
            process(b"BMW parkt seit Tagen auf dem Gehweg.", &limits()).err(),
            Some(PhotoError::Unsupported {
                detected: "Text".to_owned()
            })
        );
        assert_eq!(
            process(b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", &limits()).err(),
            Some(PhotoError::Unsupported {
                detected: "BMP".to_owned()
            })
        );
        assert_eq!(
            process(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", &limits()).err(),
            Some(PhotoError::Unsupported {
                detected: "PDF".to_owned()
            })
        );
        assert_eq!(
            process(&[0x00, 0x13, 0x37, 0x80, 0x01, 0x02, 0xFE], &limits()).err(),
            Some(PhotoError::Unsupported {
                detected: UNKNOWN.to_owned()
            })
        );
    }

    #[test]
    fn truncated_and_empty_files_are_refused() {
        let full = jpeg(&RgbImage::from_pixel(64, 64, Rgb([90, 30, 10])));
        assert!(full.len() > 200);
        assert!(matches!(
            process(&full[..200], &limits()),
            Err(PhotoError::Broken(_))
        ));
        assert_eq!(process(&[], &limits()).err(), Some(PhotoError::Empty));
        let mut bad_png = png(&RgbaImage::new(8, 8));
        bad_png.truncate(40);
        assert!(matches!(
            process(&bad_png, &limits()),
            Err(PhotoError::Broken(_))
        ));
    }

    #[test]
    fn files_over_the_byte_limit_are_refused() {
        let bytes = jpeg(&RgbImage::from_pixel(64, 64, Rgb([90, 30, 10])));
        let small = Limits {
            max_bytes: bytes.len() - 1,
            ..limits()
        };
        assert_eq!(
            process(&bytes, &small).err(),
            Some(PhotoError::TooLarge {
                bytes: bytes.len(),
                max: bytes.len() - 1
            })
        );
        let exact = Limits {
            max_bytes: bytes.len(),
            ..limits()
        };
        assert!(process(&bytes, &exact).is_ok());
    }

    #[test]
    fn decompression_bomb_is_refused_from_the_header() {
        let bomb = png_claiming(60_000, 60_000);
        let started = Instant::now();
        let result = process(&bomb, &limits());
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(
            result.err(),
            Some(PhotoError::TooManyPixels {
                width: 60_000,
                height: 60_000,
                max_megapixels: 50
            })
        );
    }

    #[test]
    fn image_limits_stop_the_bomb_as_well() {
        // Second line of defence, without the header check: the limits handed to the image
        // crate refuse the allocation before it happens.
        let bomb = png_claiming(60_000, 60_000);
        let started = Instant::now();
        let mut reader = ImageReader::with_format(Cursor::new(bomb.as_slice()), ImageFormat::Png);
        reader.limits(decoder_limits(max_pixels(50)));
        assert!(matches!(reader.decode(), Err(ImageError::Limits(_))));
        assert_eq!(
            decode(&bomb, Accepted::Png, 50).err(),
            Some(PhotoError::TooManyPixels {
                width: 60_000,
                height: 60_000,
                max_megapixels: 50
            })
        );
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn redaction_blacks_out_the_rectangle() {
        let white = jpeg(&RgbImage::from_pixel(200, 100, Rgb([255, 255, 255])));
        let rect = Rect {
            x: 0.25,
            y: 0.25,
            w: 0.5,
            h: 0.5,
        };
        let out = redact(&white, &[rect], &limits()).expect("redaction works");
        assert_eq!((out.width, out.height), (200, 100));
        let display = decode_jpeg(&out.display);
        assert!(
            display.get_pixel(100, 50).0.iter().all(|&v| v < 40),
            "centre is black"
        );
        assert!(
            display.get_pixel(10, 10).0.iter().all(|&v| v > 215),
            "corner stays white"
        );
        assert!(
            display.get_pixel(190, 50).0.iter().all(|&v| v > 215),
            "right stays white"
        );
        let thumb = decode_jpeg(&out.thumb);
        assert!(
            thumb.get_pixel(100, 50).0.iter().all(|&v| v < 40),
            "thumb centre is black"
        );
        assert_clean(&out.display);
    }

    #[test]
    fn redaction_clamps_rectangles_to_the_image() {
        let white = jpeg(&RgbImage::from_pixel(200, 100, Rgb([255, 255, 255])));
        let rect = Rect {
            x: 0.9,
            y: -0.5,
            w: 0.5,
            h: 2.0,
        };
        let out = redact(&white, &[rect], &limits()).expect("out-of-range rectangle is clamped");
        let display = decode_jpeg(&out.display);
        assert!(display.get_pixel(195, 5).0.iter().all(|&v| v < 40));
        assert!(display.get_pixel(195, 95).0.iter().all(|&v| v < 40));
        assert!(display.get_pixel(150, 50).0.iter().all(|&v| v > 215));
    }

    #[test]
    fn redaction_refuses_invalid_rectangles() {
        let white = jpeg(&RgbImage::from_pixel(20, 10, Rgb([255, 255, 255])));
        let valid = Rect {
            x: 0.1,
            y: 0.1,
            w: 0.2,
            h: 0.2,
        };
        for rect in [
            Rect { w: -1.0, ..valid },
            Rect { h: 0.0, ..valid },
            Rect {
                x: f64::NAN,
                ..valid
            },
            Rect {
                w: f64::INFINITY,
                ..valid
            },
        ] {
            assert!(
                matches!(
                    redact(&white, &[valid, rect], &limits()),
                    Err(PhotoError::Broken(_))
                ),
                "{rect:?} is refused"
            );
        }
        let png = png(&RgbaImage::new(4, 4));
        assert!(matches!(
            redact(&png, &[valid], &limits()),
            Err(PhotoError::Broken(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_process_concurrent_uploads() {
        let workers = Workers::new(2);
        let bytes = bytes::Bytes::from(jpeg(&RgbImage::from_pixel(640, 480, Rgb([10, 200, 30]))));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let workers = workers.clone();
                let bytes = bytes.clone();
                tokio::spawn(async move { workers.process(bytes, limits()).await })
            })
            .collect();
        for task in tasks {
            let out = task.await.expect("task joins").expect("photo is processed");
            assert_eq!((out.width, out.height), (640, 480));
        }
        let redacted = workers
            .redact(
                jpeg(&RgbImage::from_pixel(20, 10, Rgb([255, 255, 255]))),
                vec![Rect {
                    x: 0.0,
                    y: 0.0,
                    w: 1.0,
                    h: 1.0,
                }],
                limits(),
            )
            .await
            .expect("redaction is processed");
        assert_eq!((redacted.width, redacted.height), (20, 10));
        assert_eq!(workers.slots.available_permits(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_bound_the_concurrency() {
        let workers = Workers::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let workers = workers.clone();
                let running = Arc::clone(&running);
                let peak = Arc::clone(&peak);
                tokio::spawn(async move {
                    workers
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(40));
                            running.fetch_sub(1, Ordering::SeqCst);
                            Err(PhotoError::Empty)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(
                task.await.expect("task joins").err(),
                Some(PhotoError::Empty)
            );
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn messages_name_the_file_in_both_languages() {
        let heic = PhotoError::Heic;
        let german = heic.message("IMG_0001.HEIC", false);
        assert!(german.starts_with("„IMG_0001.HEIC“ ist ein HEIC-Foto (iPhone)."));
        assert!(german.contains("Kamera → Formate „Maximale Kompatibilität“"));
        let english = heic.message("IMG_0001.HEIC", true);
        assert!(english.starts_with("“IMG_0001.HEIC” is a HEIC photo (iPhone)."));
        assert!(english.contains("“Most Compatible”"));

        let large = PhotoError::TooLarge {
            bytes: 12_345_678,
            max: 10_000_000,
        };
        assert!(large.message("a.jpg", false).contains("(12,4 MB)"));
        assert!(large.message("a.jpg", false).contains("höchstens 10,0 MB"));
        assert!(large.message("a.jpg", true).contains("(12.4 MB)"));

        let pixels = PhotoError::TooManyPixels {
            width: 60_000,
            height: 60_000,
            max_megapixels: 50,
        };
        assert!(pixels.message("b.png", false).contains("60000 × 60000"));
        assert!(
            pixels
                .message("b.png", false)
                .contains("höchstens 50 Megapixel")
        );
        assert!(
            pixels
                .message("b.png", true)
                .contains("At most 50 megapixels")
        );

        let gif = PhotoError::Unsupported {
            detected: "GIF".to_owned(),
        };
        assert!(
            gif.message("c.gif", false)
                .contains("„c.gif“ ist eine Datei im Format GIF")
        );
        assert!(gif.message("c.gif", false).contains("JPEG, PNG oder WebP"));
        assert!(gif.message("c.gif", true).contains("JPEG, PNG or WebP"));
        let unknown = PhotoError::Unsupported {
            detected: UNKNOWN.to_owned(),
        };
        assert!(unknown.message("d", true).contains("not recognised"));
        assert!(unknown.message("d", false).contains("nicht erkannt"));

        let broken = PhotoError::Broken("secret internals".to_owned());
        assert!(!broken.message("e.jpg", false).contains("secret"));
        assert!(
            PhotoError::Empty
                .message("C:\\Users\\x\\f.jpg", false)
                .starts_with("„f.jpg“")
        );
        assert!(
            PhotoError::Empty
                .message("\u{7}", true)
                .starts_with("“photo”")
        );
    }
}
