//! Enrollment as a person does it: the QR codes of the `otpauth://` URI (the pre-built UI's
//! SVG and the examples' terminal banner) decode back to the URI, read by `rqrr` as a
//! phone's camera app would read them. And the examples' demo helper shows the codes a
//! phone would receive.

use crate::demo;

use authsignal::types::{ChallengeRequest, VerificationMethod};
use authsignal_emulator::ActionConfig;
use axum::body::Body;
use tower::ServiceExt as _;

use crate::emulator_util::{builder, t0, track};

/// Dark (`true`) or light pixels, row by row.
struct Bitmap {
    width: usize,
    height: usize,
    dark: Vec<bool>,
}

impl Bitmap {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            dark: vec![false; width * height],
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize) {
        for row in y..(y + h).min(self.height) {
            for col in x..(x + w).min(self.width) {
                self.dark[row * self.width + col] = true;
            }
        }
    }

    /// What a QR reader makes of it: the text of the one code it finds.
    fn decode(&self) -> String {
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(self.width, self.height, |x, y| {
                if self.dark[y * self.width + x] {
                    0
                } else {
                    255
                }
            });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (_, text) = grids[0].decode().expect("the code decodes");
        text
    }
}

/// Draws the `qrcode` crate's SVG: a `viewBox`, and one path of axis-aligned rectangles
/// `M<x> <y>h<w>v<h>H<x>V<y>` for the dark modules.
fn rasterize_svg(svg: &str) -> Bitmap {
    let number = |text: &str| -> usize { text.trim().parse().expect("a whole number") };
    let view_box = svg
        .split(r#"viewBox=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a viewBox");
    let sizes: Vec<usize> = view_box.split(' ').map(number).collect();
    let mut bitmap = Bitmap::new(sizes[2], sizes[3]);
    let path = svg
        .split(r#" d=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a path");
    for rect in path.split('M').filter(|rect| !rect.is_empty()) {
        // `12 12h3v3H12V12`
        let (origin, rest) = rect.split_once('h').expect("h");
        let (x, y) = origin.split_once(' ').expect("x y");
        let (w, rest) = rest.split_once('v').expect("v");
        let (h, _) = rest.split_once('H').expect("H");
        bitmap.fill(number(x), number(y), number(w), number(h));
    }
    bitmap
}

/// Draws terminal lines of `█ ▀ ▄` and spaces, where a drawn half is a light module (the
/// banner is for light text on a dark background), four pixels a module.
fn rasterize_text(text: &str) -> Bitmap {
    const SCALE: usize = 4;
    let lines: Vec<Vec<char>> = text.lines().map(|line| line.chars().collect()).collect();
    let columns = lines.iter().map(Vec::len).max().unwrap();
    let mut bitmap = Bitmap::new(columns * SCALE, lines.len() * 2 * SCALE);
    for (row, line) in lines.iter().enumerate() {
        for (col, glyph) in line.iter().enumerate() {
            let (top_light, bottom_light) = match glyph {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                ' ' => (false, false),
                other => panic!("not a QR glyph: {other:?}"),
            };
            for (half, light) in [(0, top_light), (1, bottom_light)] {
                if !light {
                    bitmap.fill(col * SCALE, (row * 2 + half) * SCALE, SCALE, SCALE);
                }
            }
        }
    }
    bitmap
}

fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!(r#"id="{id}""#)).expect("the element");
    let open = start + html[start..].find('>').unwrap() + 1;
    &html[open..]
}

#[tokio::test]
async fn the_enrollment_page_qr_code_is_the_otpauth_uri() {
    let emulator = builder()
        .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    let tracked = track(&emulator, "123:test", "signIn", None).await;
    let page = reqwest::get(tracked.url.unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let shown = element(&page, "totp-qr");
    let svg = &shown[..shown.find("</svg>").expect("an inline SVG") + "</svg>".len()];
    let uri_text = element(&page, "totp-uri");
    let uri = uri_text[..uri_text.find('<').unwrap()].replace("&amp;", "&");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");

    let decoded = rasterize_svg(svg).decode();
    assert_eq!(decoded, uri);
    // And it is the URI of the app the page set up: its code is the user's code.
    assert!(decoded.contains("123%3Atest"), "{decoded}");
    assert!(emulator.totp_code("123:test").is_some());
}

#[tokio::test]
async fn the_banner_qr_code_is_the_otpauth_uri() {
    let emulator = builder().start().await.unwrap();
    let enrollment = emulator.enroll_totp("demo-user");
    let banner = demo::enrollment_banner(&enrollment);
    assert!(banner.contains(&enrollment.secret) && banner.contains(&enrollment.uri));
    let qr = banner
        .split_once("or scan it:\n")
        .map(|(_, qr)| qr)
        .expect("the QR code follows");
    assert_eq!(rasterize_text(qr).decode(), enrollment.uri);
    // The same code the handle renders, and the page's SVG of it decodes the same.
    assert_eq!(qr, enrollment.qr_code_text());
    assert_eq!(
        rasterize_svg(&enrollment.qr_code_svg()).decode(),
        enrollment.uri
    );
}

#[tokio::test]
async fn the_demo_helper_shows_the_codes_a_phone_would_get() {
    let emulator = builder().start().await.unwrap();
    let app = demo::code_page(axum::Router::new(), Some(emulator.clone()), "u1");
    let get = |path: &'static str| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(http::Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        }
    };
    assert_eq!(get("/demo/code").await, "", "nothing sent yet");

    let client = emulator.client();
    for (method, to) in [
        (VerificationMethod::Sms, "+64270000067"),
        (VerificationMethod::EmailOtp, "u1@example.com"),
    ] {
        let request = ChallengeRequest {
            verification_method: Some(method.clone()),
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
            ..ChallengeRequest::default()
        };
        let request = match method {
            VerificationMethod::Sms => ChallengeRequest {
                phone_number: Some(to.into()),
                ..request
            },
            _ => ChallengeRequest {
                email: Some(to.into()),
                ..request
            },
        };
        client.challenge(&request).await.unwrap();
    }
    let sms = emulator.last_code_sent_to("+64270000067").unwrap();
    let email = emulator.last_code_sent_to("u1@example.com").unwrap();
    // No app: the newest code sent is the one to type.
    assert_eq!(get("/demo/code").await, email);
    assert_eq!(
        get("/demo/outbox").await,
        format!(
            "EMAIL_OTP to u1@example.com for withdraw: {email}\nSMS to +64270000067 for withdraw: {sms}\n"
        )
    );
    // With an app, the app's code, as before.
    emulator.enroll_totp("u1");
    assert_eq!(get("/demo/code").await, emulator.totp_code("u1").unwrap());
}
