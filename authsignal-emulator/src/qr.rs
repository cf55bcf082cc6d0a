//! The `otpauth://` URI as a QR code, the way a person enrolls an authenticator app: they
//! point their phone at it. Drawn by the `qrcode` crate, as SVG for the pre-built UI and as
//! block characters for a terminal.

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// The code of `text`: error correction M (15%), enough for a screen or a terminal, and the
/// level authenticator apps' own sample codes use. `None` only for a text too long for
/// any QR code, which an otpauth URI never is.
fn code(text: &str) -> Option<QrCode> {
    QrCode::with_error_correction_level(text, EcLevel::M).ok()
}

/// An inline `<svg>` element (no XML declaration), at least 200 px wide, with the
/// 4-module quiet zone scanners need.
pub(crate) fn svg(text: &str) -> Option<String> {
    let image = code(text)?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The renderer writes a standalone document; inside HTML only the element belongs.
    let start = image.find("<svg")?;
    Some(image[start..].to_owned())
}

/// Lines of `█ ▀ ▄` and spaces, two modules a character high, quiet zone included.
///
/// Drawn for the usual dark terminal, light text on dark: a dark module is a blank (the
/// background), a light one is drawn, so that the code reads dark on light as scanners
/// expect.
pub(crate) fn terminal(text: &str) -> Option<String> {
    Some(
        code(text)?
            .render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_renderings_are_of_the_whole_uri() {
        let uri = "otpauth://totp/Authsignal%20Emulator:u1?secret=GEZDGNBVGY3TQOJQ&issuer=x";
        let svg = svg(uri).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(!svg.contains("<?xml"));
        let text = terminal(uri).unwrap();
        assert!(text.lines().count() > 10);
        assert!(text.chars().all(|c| " █▀▄\n".contains(c)), "{text}");
    }
}
