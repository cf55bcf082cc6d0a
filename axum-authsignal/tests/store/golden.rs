//! The stored bytes of every record kind, pinned: each case below is encoded and compared
//! with its file under `tests/store/golden/`, and each file decodes back to its record. A
//! change to the stored format fails here, and must be deliberate:
//!
//! 1. bump `PendingChallenge::FORMAT_VERSION` (`src/store/record.rs`): records written
//!    before are then refused, never misread;
//! 2. rewrite the files: `UPDATE_GOLDEN=1 cargo test -p axum-authsignal --test store golden`.
//!
//! `golden/versions.txt` holds, per format version, the SHA-256 of the files of that
//! version. Rewriting files whose bytes change under a version already listed is refused:
//! a new format needs a new version. The files of older versions move to
//! `golden/v<version>/` when they are rewritten, and must be refused from then on.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axum_authsignal::store::{DecodeRecordError, PendingChallenge, StashedRequest, Verification};
use http::Method;
use sha2::{Digest, Sha256};

/// The path and query every case is for.
const PATH: &str = "/withdraw?currency=EUR";
const FORM: &str = "application/x-www-form-urlencoded";

/// An API client's challenge: bound to a JSON body, nothing stashed.
fn api_challenge() -> PendingChallenge {
    PendingChallenge::challenge("alice", "withdraw", Method::POST, PATH).with_body(
        Some("application/json".into()),
        None,
        [0x11; 32],
    )
}

/// A browser's challenge: its form stashed to be replayed.
fn browser_challenge() -> PendingChallenge {
    PendingChallenge::challenge("alice", "withdraw", Method::POST, PATH)
        .with_body(Some(FORM.into()), Some("gzip".into()), [0x22; 32])
        .with_stash(StashedRequest::new(
            "amount=5000&payee=bob",
            Some(format!("{FORM}; charset=utf-8")),
        ))
}

/// A browser's challenge, completed, waiting to be resumed.
fn resume() -> PendingChallenge {
    browser_challenge().into_resume(
        Verification::new("0b6c6d3e-5d0a-4c4e-9a59-6f1b2f7c8d90")
            .with_verification_method("AUTHENTICATOR_APP"),
    )
}

/// A browser's request held for a review, approved, waiting to be resumed.
fn reviewed_resume() -> PendingChallenge {
    browser_challenge().into_resume(Verification::reviewed(
        "7d1f0c9a-2b3e-4f5a-8c6d-9e0f1a2b3c4d",
    ))
}

/// A token the standalone validator accepted.
fn spent() -> PendingChallenge {
    PendingChallenge::spent("alice", "withdraw", Method::DELETE, PATH)
}

/// A sign-in challenge: bound to its user and action only.
fn sign_in() -> PendingChallenge {
    PendingChallenge::challenge("bøb {x}", "sign-in", Method::GET, "")
}

/// A case: the name of its file, and its record.
type Case = (&'static str, fn() -> PendingChallenge);

/// Every case.
const CASES: [Case; 6] = [
    ("challenge", api_challenge),
    ("browser_challenge", browser_challenge),
    ("resume", resume),
    ("reviewed_resume", reviewed_resume),
    ("spent", spent),
    ("sign_in", sign_in),
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/store/golden")
}

fn golden_file(name: &str) -> PathBuf {
    golden_dir().join(format!("{name}.hex"))
}

/// The record `name` as version `version` of the format wrote it (`golden/v<version>/`).
pub fn older_record(version: u8, name: &str) -> Vec<u8> {
    from_hex(&golden_dir().join(format!("v{version}/{name}.hex")))
}

/// Hex, 32 bytes a line: a diff of two versions shows where they part.
fn to_hex(bytes: &[u8]) -> String {
    let mut hex = String::new();
    for line in bytes.chunks(32) {
        for byte in line {
            write!(hex, "{byte:02x}").unwrap();
        }
        hex.push('\n');
    }
    hex
}

fn from_hex(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err} (UPDATE_GOLDEN=1 writes it)", path.display()));
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("hex digits");
            u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("{}: not hex", path.display()))
        })
        .collect()
}

/// The digest `versions.txt` lists for a version: of every case's name and bytes.
fn digest(files: &[(&str, Vec<u8>)]) -> String {
    let mut sha = Sha256::new();
    for (name, bytes) in files {
        sha.update(name.as_bytes());
        sha.update((bytes.len() as u64).to_le_bytes());
        sha.update(bytes);
    }
    to_hex(&sha.finalize()).trim().to_owned()
}

/// `versions.txt`: one line per format version, `<version> <digest>`.
fn listed_versions() -> Vec<(u8, String)> {
    let text = std::fs::read_to_string(golden_dir().join("versions.txt")).unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (version, digest) = line.split_once(' ').expect("`<version> <digest>`");
            (
                version.parse().expect("a version byte"),
                digest.trim().to_owned(),
            )
        })
        .collect()
}

/// Before a file is rewritten for a new version, its bytes of the older version move to
/// `golden/v<older>/`, where [`records_of_earlier_versions_are_refused`] reads them.
fn keep_as_older(name: &str, version: u8) {
    let Ok(text) = std::fs::read_to_string(golden_file(name)) else {
        return;
    };
    let older = from_hex(&golden_file(name))[0];
    if older != version {
        let dir = golden_dir().join(format!("v{older}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.hex")), text).unwrap();
    }
}

fn encoded_cases() -> Vec<(&'static str, Vec<u8>)> {
    CASES
        .iter()
        .map(|(name, case)| (*name, case().encode().expect("a small record encodes")))
        .collect()
}

const HOW_TO_UPDATE: &str = "if the format change is deliberate, bump \
    PendingChallenge::FORMAT_VERSION (src/store/record.rs), then run \
    `UPDATE_GOLDEN=1 cargo test -p axum-authsignal --test store golden`";

#[test]
fn golden_files_pin_the_stored_bytes_of_every_record_kind() {
    let version = PendingChallenge::FORMAT_VERSION;
    let encoded = encoded_cases();
    let listed = listed_versions();
    let listed_digest = listed
        .iter()
        .find(|(listed, _)| *listed == version)
        .map(|(_, digest)| digest.clone());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        if let Some(listed_digest) = &listed_digest {
            assert_eq!(
                *listed_digest,
                digest(&encoded),
                "the stored format changed but FORMAT_VERSION is still {version}, whose \
                 bytes versions.txt already pins: bump the version, so that records of the \
                 old format are refused rather than misread"
            );
        }
        for (name, bytes) in &encoded {
            keep_as_older(name, version);
            std::fs::write(golden_file(name), to_hex(bytes)).unwrap();
        }
        if listed_digest.is_none() {
            let mut versions = std::fs::read_to_string(golden_dir().join("versions.txt"))
                .unwrap_or_else(|_| {
                    "# <format version> <SHA-256 of its golden files>: see tests/store/golden.rs\n"
                        .to_owned()
                });
            writeln!(versions, "{version} {}", digest(&encoded)).unwrap();
            std::fs::write(golden_dir().join("versions.txt"), versions).unwrap();
        }
    }
    for ((name, case), (_, bytes)) in CASES.iter().zip(&encoded) {
        let golden = from_hex(&golden_file(name));
        assert_eq!(
            golden.first(),
            Some(&version),
            "golden/{name}.hex is of another format version than the code's {version}: {HOW_TO_UPDATE}"
        );
        assert!(
            golden == *bytes,
            "the stored bytes of `{name}` changed:\n  golden: {}\n  now:    {}\n{HOW_TO_UPDATE}",
            to_hex(&golden).replace('\n', ""),
            to_hex(bytes).replace('\n', ""),
        );
        assert_eq!(
            PendingChallenge::decode(&golden).as_ref(),
            Ok(&case()),
            "{name}"
        );
    }
    // Read again: an update may just have listed this version.
    let listed = listed_versions();
    let listed_digest = listed
        .iter()
        .find(|(listed, _)| *listed == version)
        .map(|(_, digest)| digest.as_str());
    assert_eq!(
        listed_digest,
        Some(digest(&encoded).as_str()),
        "golden/versions.txt does not pin version {version} to these files: {HOW_TO_UPDATE}"
    );
    // Versions only grow: the current one is the last listed, none is listed twice.
    let versions: Vec<u8> = listed.iter().map(|(version, _)| *version).collect();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );
    assert_eq!(versions.last(), Some(&version));
}

fn is_refused_as_another_version(bytes: &[u8]) -> bool {
    PendingChallenge::decode(bytes)
        .as_ref()
        .is_err_and(|err: &DecodeRecordError| err.to_string().contains("unknown version"))
}

/// The records of every earlier version (`golden/v<version>/`, each written by that
/// version of the crate; version 1's resume record holds the Authsignal client's answer as
/// JSON) are refused.
#[test]
fn records_of_earlier_versions_are_refused() {
    let mut seen = 0;
    for dir in std::fs::read_dir(golden_dir()).unwrap() {
        let dir = dir.unwrap().path();
        let Some(older) = dir
            .file_name()
            .and_then(|name| name.to_str()?.strip_prefix('v')?.parse::<u8>().ok())
        else {
            continue;
        };
        assert!(
            older < PendingChallenge::FORMAT_VERSION,
            "{}",
            dir.display()
        );
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let old = from_hex(&file);
            assert_eq!(old.first(), Some(&older), "{}", file.display());
            assert!(is_refused_as_another_version(&old), "{}", file.display());
            seen += 1;
        }
    }
    // Version 1's challenge and resume records at least.
    assert!(seen >= 2, "no records of earlier versions under golden/");
}

/// A record of a later version, as a newer instance of the app would write it during a
/// rolling deploy, is refused the same way; so is one of every other version byte.
#[test]
fn records_of_any_other_version_are_refused() {
    for (name, bytes) in encoded_cases() {
        for version in (0..=u8::MAX).filter(|v| *v != PendingChallenge::FORMAT_VERSION) {
            let mut other = bytes.clone();
            other[0] = version;
            assert!(
                is_refused_as_another_version(&other),
                "{name} as version {version}"
            );
        }
    }
}
