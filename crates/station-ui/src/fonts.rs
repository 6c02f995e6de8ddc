//! Fonts from the system, read at run time (no font file lives in the repository).
//!
//! * The curve plots draw their axis numbers with `plotters`' `ab_glyph` backend, which
//!   needs a font registered under `sans-serif`: the first of [`PLOT_FONTS`] found.
//! * Slint finds CJK fonts through fontconfig (`fonts-noto-cjk`); [`register_cjk_fallback`]
//!   additionally registers a CJK font file with Slint for machines without fontconfig.

use std::sync::OnceLock;

/// Latin fonts for the plots' axis text, in order of preference.
pub const PLOT_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// CJK font files, in order of preference.
pub const CJK_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
];

/// Registers the plot font once; whether the plots can draw text.
pub fn plot_font_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        for path in PLOT_FONTS {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            // plotters keeps the font for the whole process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            match plotters::style::register_font(
                "sans-serif",
                plotters::style::FontStyle::Normal,
                bytes,
            ) {
                Ok(()) => {
                    tracing::debug!(font = path, "plot font registered");
                    return true;
                }
                Err(_) => tracing::warn!(font = path, "not a usable font file"),
            }
        }
        tracing::warn!("no plot font found ({PLOT_FONTS:?}): plots are drawn without axis text");
        false
    })
}

/// The first installed CJK font file.
pub fn cjk_font_path() -> Option<&'static str> {
    CJK_FONTS
        .iter()
        .copied()
        .find(|p| std::path::Path::new(p).is_file())
}

/// Registers a CJK font file with Slint as the fallback for Han script, for machines
/// where fontconfig does not offer one. Returns whether a font was registered.
pub fn register_cjk_fallback() -> bool {
    use slint::fontique_011::fontique;
    let Some(path) = cjk_font_path() else {
        tracing::warn!("no CJK font installed (apt: fonts-noto-cjk): Chinese text will not show");
        return false;
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("cannot read {path}: {e}");
            return false;
        }
    };
    let mut collection = slint::fontique_011::shared_collection();
    let fonts = collection.register_fonts(fontique::Blob::new(std::sync::Arc::new(bytes)), None);
    for script in [*b"Hani", *b"Hans", *b"Hira", *b"Kana"] {
        collection.append_fallbacks(
            fontique::FallbackKey::new(fontique::Script::from_bytes(script), None),
            fonts.iter().map(|f| f.0),
        );
    }
    !fonts.is_empty()
}
