//! Images: checked by decoding them (within limits, so a small file that claims a huge picture
//! cannot exhaust memory) and shrunk to a JPEG thumbnail.

use std::{io::BufReader, path::Path};

use image::{DynamicImage, ImageFormat, ImageReader, Limits, Rgb, RgbImage};

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageRefusal {
    #[error("the image is {0}×{1} pixels, more than allowed")]
    TooManyPixels(u32, u32),
    #[error("the file is not a valid {0} image")]
    Undecodable(&'static str),
    #[error("reading the image: {0}")]
    Io(#[from] std::io::Error),
}

/// A decoded image's size and its thumbnail (JPEG).
pub struct Checked {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
}

/// The image format of a media type this module checks, if it is one.
pub fn format_of(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Decodes the file at `path` as `format` (its content must say the same), refusing more than
/// `max_pixels` before any pixel is decoded, and makes a thumbnail whose longer side is at most
/// `thumb_px`. Blocking: run it off the async threads.
pub fn check(
    path: &Path,
    format: ImageFormat,
    max_pixels: u64,
    thumb_px: u32,
) -> Result<Checked, ImageRefusal> {
    let name = format.to_mime_type();
    let undecodable = |_| ImageRefusal::Undecodable(name);
    let (width, height) = reader(path, format)?
        .into_dimensions()
        .map_err(undecodable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageRefusal::TooManyPixels(width, height));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // The decoded picture (at most 8 bytes a pixel) and the decoder's own buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 * 1024 * 1024));
    let mut decoder = reader(path, format)?;
    decoder.limits(limits);
    let picture = decoder.decode().map_err(undecodable)?;
    Ok(Checked {
        width,
        height,
        thumbnail: thumbnail(&picture, thumb_px).map_err(undecodable)?,
    })
}

/// A reader that takes the file for `format` only if its first bytes say so.
fn reader(
    path: &Path,
    format: ImageFormat,
) -> Result<ImageReader<BufReader<std::fs::File>>, ImageRefusal> {
    let reader =
        ImageReader::new(BufReader::new(std::fs::File::open(path)?)).with_guessed_format()?;
    if reader.format() != Some(format) {
        return Err(ImageRefusal::Undecodable(format.to_mime_type()));
    }
    Ok(reader)
}

/// A JPEG no larger than `px` on either side, transparency laid on white.
fn thumbnail(picture: &DynamicImage, px: u32) -> image::ImageResult<Vec<u8>> {
    let small = if picture.width() > px || picture.height() > px {
        picture.thumbnail(px, px)
    } else {
        picture.clone()
    };
    let rgba = small.to_rgba8();
    let on_white = RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend =
            |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        Rgb([blend(r), blend(g), blend(b)])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&on_white)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn write_png(dir: &Path, width: u32, height: u32) -> std::path::PathBuf {
        let path = dir.join("picture.png");
        RgbImage::from_pixel(width, height, Rgb([200, 40, 40]))
            .save_with_format(&path, ImageFormat::Png)
            .unwrap();
        path
    }

    #[test]
    fn a_large_image_gets_a_small_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_png(dir.path(), 1000, 500);
        let checked = check(&path, ImageFormat::Png, 10_000_000, 320).unwrap();
        assert_eq!((checked.width, checked.height), (1000, 500));
        let thumb = image::load_from_memory(&checked.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
    }

    #[test]
    fn too_many_pixels_are_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_png(dir.path(), 200, 200);
        assert!(matches!(
            check(&path, ImageFormat::Png, 100 * 100, 320),
            Err(ImageRefusal::TooManyPixels(200, 200))
        ));
    }

    #[test]
    fn a_file_that_is_not_its_declared_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_png(dir.path(), 10, 10);
        assert!(matches!(
            check(&path, ImageFormat::Jpeg, 1_000_000, 320),
            Err(ImageRefusal::Undecodable("image/jpeg"))
        ));
        let text = dir.path().join("notes.png");
        std::fs::write(&text, "not a picture").unwrap();
        assert!(matches!(
            check(&text, ImageFormat::Png, 1_000_000, 320),
            Err(ImageRefusal::Undecodable(_))
        ));
    }
}
