//! Greyscale images: a borrowed view, an owned image, the 2×2 pyramid, bilinear samples.

use crate::VisionError;

/// A borrowed 8-bit greyscale image, row-major, `width` bytes a row.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    width: usize,
    height: usize,
    data: &'a [u8],
}

impl<'a> ImageView<'a> {
    /// A view of `data` (`width * height` bytes, or more: the rest is ignored).
    pub fn new(width: u32, height: u32, data: &'a [u8]) -> Result<ImageView<'a>, VisionError> {
        let (w, h) = (width as usize, height as usize);
        if w == 0 || h == 0 || data.len() < w * h {
            return Err(VisionError::BadImage {
                width,
                height,
                len: data.len(),
            });
        }
        Ok(ImageView {
            width: w,
            height: h,
            data: &data[..w * h],
        })
    }
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// Row `y` (panics outside: internal callers check bounds).
    #[inline]
    pub(crate) fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
    /// The pixel at (x, y), `None` outside.
    pub fn get(&self, x: usize, y: usize) -> Option<u8> {
        if x < self.width && y < self.height {
            self.data.get(y * self.width + x).copied()
        } else {
            None
        }
    }

    /// Bilinear sample at (x, y) (pixel centres at integers); `None` outside.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> Option<f32> {
        if !(x >= 0.0 && y >= 0.0) {
            return None;
        }
        let (x0, y0) = (x as usize, y as usize);
        if x0 + 1 >= self.width || y0 + 1 >= self.height {
            return None;
        }
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let i = y0 * self.width + x0;
        let d = self.data;
        let a = f32::from(d[i]);
        let b = f32::from(d[i + 1]);
        let c = f32::from(d[i + self.width]);
        let e = f32::from(d[i + self.width + 1]);
        let top = a + (b - a) * fx;
        let bot = c + (e - c) * fx;
        Some(top + (bot - top) * fy)
    }

    /// A copy of a rectangle (clipped to the image).
    pub(crate) fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> GrayImage {
        let x1 = (x + w).min(self.width);
        let y1 = (y + h).min(self.height);
        let (x, y) = (x.min(x1), y.min(y1));
        let mut data = Vec::with_capacity((x1 - x) * (y1 - y));
        for yy in y..y1 {
            data.extend_from_slice(&self.row(yy)[x..x1]);
        }
        GrayImage {
            width: x1 - x,
            height: y1 - y,
            data,
        }
    }
}

/// An owned greyscale image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) data: Vec<u8>,
}

impl GrayImage {
    pub fn view(&self) -> ImageView<'_> {
        ImageView {
            width: self.width,
            height: self.height,
            data: &self.data,
        }
    }

    /// Half size: every pixel the rounded mean of a 2×2 block (a last odd row/column is
    /// dropped).
    pub(crate) fn half(src: ImageView<'_>) -> GrayImage {
        let (w, h) = (src.width / 2, src.height / 2);
        let mut data = vec![0u8; w * h];
        for (y, out) in data.chunks_exact_mut(w.max(1)).enumerate().take(h) {
            let r0 = src.row(2 * y);
            let r1 = src.row(2 * y + 1);
            for (x, o) in out.iter_mut().enumerate() {
                let s = u16::from(r0[2 * x])
                    + u16::from(r0[2 * x + 1])
                    + u16::from(r1[2 * x])
                    + u16::from(r1[2 * x + 1]);
                *o = ((s + 2) / 4) as u8;
            }
        }
        GrayImage {
            width: w,
            height: h,
            data,
        }
    }
}

/// An image and its half-size levels: `levels[0]` is the image itself.
#[derive(Debug)]
pub(crate) struct Pyramid<'a> {
    base: ImageView<'a>,
    up: Vec<GrayImage>,
}

impl<'a> Pyramid<'a> {
    pub(crate) fn new(base: ImageView<'a>, levels: usize) -> Pyramid<'a> {
        let mut up: Vec<GrayImage> = Vec::with_capacity(levels.saturating_sub(1));
        for _ in 1..levels.max(1) {
            let prev = up.last().map_or(base, GrayImage::view);
            if prev.width < 4 || prev.height < 4 {
                break;
            }
            up.push(GrayImage::half(prev));
        }
        Pyramid { base, up }
    }
    pub(crate) fn levels(&self) -> usize {
        1 + self.up.len()
    }
    pub(crate) fn level(&self, l: usize) -> ImageView<'_> {
        if l == 0 {
            self.base
        } else {
            self.up.get(l - 1).map_or(self.base, GrayImage::view)
        }
    }
}
