//! The screenshot renderer against a simulator: every page in both languages, not blank,
//! and Chinese glyphs really drawn (without a CJK font they silently vanish).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_station::demo::render_screenshots_with_simulator;
use bonder_station_ui::{SCREENSHOT_PAGES, ScreenshotRun};
use std::path::Path;
use std::time::Duration;

fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Dark (text) pixels in a rectangle of an RGB image.
fn dark_pixels(img: &(u32, u32, Vec<u8>), x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
    let (w, _, px) = img;
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * w + x) * 3) as usize;
            if px[i] < 0x60 && px[i + 1] < 0x60 && px[i + 2] < 0x60 {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn every_page_renders_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let run = ScreenshotRun {
        size_px: (1280, 800),
        fill: Duration::from_secs(3),
    };
    let files = render_screenshots_with_simulator(dir.path(), &run, None, None, &[]).unwrap();
    // Every page, the login page with the keyboard, the administrator's user list, the
    // camera's calibration (entered, measured), then the ten states of the changeover
    // wizard and its report, in both languages.
    assert_eq!(files.len(), (SCREENSHOT_PAGES.len() + 2 + 2 + 11) * 2);
    for f in &files {
        let (w, h, px) = read_png(f);
        assert_eq!((w, h), (1280, 800));
        let colours: std::collections::HashSet<_> = px.chunks(3).step_by(7).collect();
        assert!(colours.len() > 20, "{} looks blank", f.display());
    }
    let en = read_png(&dir.path().join("production-en-US.png"));
    let zh = read_png(&dir.path().join("production-zh-CN.png"));
    assert_ne!(en.2, zh.2);
    // The navigation bar's first button reads "生产" in zh-CN: its glyphs must be drawn
    // (an empty button has no dark pixel).
    let zh_nav = dark_pixels(&zh, 8, 740, 210, 790);
    assert!(
        zh_nav > 50,
        "Chinese text not drawn ({zh_nav} dark pixels): install fonts-noto-cjk"
    );
}
