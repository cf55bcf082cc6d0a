//! Secrets and one-time codes from the operating system's random source (`getrandom`).
//!
//! A TOTP secret, a code sent by SMS or a recovery code is a credential: a fast,
//! predictable generator (such as `fastrand`, seeded once per thread) would let someone who
//! saw a few codes compute the next ones. Every draw here is unbiased: values outside the
//! largest multiple of the range are drawn again rather than folded in with `%`.

/// `N` bytes from the OS.
///
/// # Panics
///
/// If the OS has no random source to give, as `uuid::Uuid::new_v4` does: nothing the
/// emulator hands out may then be trusted.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random number generator is unavailable");
    bytes
}

/// A number in `0..bound`, uniformly (`bound` > 0).
fn below(bound: u32) -> u32 {
    debug_assert!(bound > 0);
    // The largest multiple of `bound` that fits: draws at or above it would favour the
    // low values, so they are drawn again (fewer than 1 in 4000 for a million).
    let zone = u32::MAX - u32::MAX % bound;
    loop {
        let draw = u32::from_le_bytes(bytes::<4>());
        if draw < zone {
            return draw % bound;
        }
    }
}

/// A one-time code of six decimal digits, `000000` to `999999`.
pub(crate) fn six_digits() -> String {
    format!("{:06}", below(1_000_000))
}

/// `len` characters of `a-z0-9`.
pub(crate) fn lowercase_alphanumeric(len: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[below(36) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_shape_and_vary() {
        let codes: Vec<String> = (0..32).map(|_| six_digits()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        // 32 draws from a million values: a repeat of all of them means no randomness.
        assert!(codes.iter().any(|c| *c != codes[0]), "{codes:?}");
        let word = lowercase_alphanumeric(40);
        assert_eq!(word.len(), 40);
        assert!(
            word.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(bytes::<20>(), bytes::<20>());
    }

    #[test]
    fn every_value_of_a_small_range_comes_up() {
        let mut seen = [false; 3];
        for _ in 0..300 {
            seen[below(3) as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
    }
}
