//! Random numbers from the host: `wasi:random`.
//!
//! [`fill`] and [`u64()`] are cryptographically secure (`wasi:random/random`);
//! [`insecure::fill`] and [`insecure::u64()`] are fast and fine for hashing
//! or jitter (`wasi:random/insecure`). None of them waits.
//!
//! Natively (in tests) the host is simulated: the numbers come from a
//! seeded generator per thread, so tests are reproducible; set the seed with
//! [`crate::sim::seed_random`].
//!
//! # Examples
//!
//! ```
//! let mut key = [0u8; 16];
//! wasync::rand::fill(&mut key);
//! let jitter_ms = wasync::rand::insecure::u64() % 50;
//! assert!(jitter_ms < 50);
//! ```

/// Fills `buf` with cryptographically secure random bytes.
///
/// # Examples
///
/// ```
/// let mut nonce = [0u8; 12];
/// wasync::rand::fill(&mut nonce);
/// ```
pub fn fill(buf: &mut [u8]) {
    host::secure_bytes(buf);
}

/// A cryptographically secure random `u64`.
///
/// # Examples
///
/// ```
/// let id = wasync::rand::u64();
/// # let _ = id;
/// ```
pub fn u64() -> u64 {
    host::secure_u64()
}

/// Fast random numbers that are not for secrets: `wasi:random/insecure`.
pub mod insecure {
    /// Fills `buf` with random bytes that are not for secrets.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut sample = [0u8; 4];
    /// wasync::rand::insecure::fill(&mut sample);
    /// ```
    pub fn fill(buf: &mut [u8]) {
        super::host::insecure_bytes(buf);
    }

    /// A random `u64` that is not for secrets.
    ///
    /// # Examples
    ///
    /// ```
    /// let shard = wasync::rand::insecure::u64() % 8;
    /// assert!(shard < 8);
    /// ```
    pub fn u64() -> u64 {
        super::host::insecure_u64()
    }

    /// The host's seed for a hash map or a generator of the guest's own
    /// (`wasi:random/insecure-seed`): the same for the whole instance.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = wasync::rand::insecure::seed();
    /// assert_eq!(wasync::rand::insecure::seed(), (a, b));
    /// ```
    pub fn seed() -> (u64, u64) {
        super::host::insecure_seed()
    }
}

#[cfg(target_family = "wasm")]
mod host {
    use wasip2::random::{insecure, insecure_seed, random};

    /// Copies `len`-byte chunks the host returned into `buf`: the host may
    /// only be asked for whole lists.
    fn fill_with(buf: &mut [u8], get: impl Fn(u64) -> Vec<u8>) {
        for chunk in buf.chunks_mut(4096) {
            let bytes = get(chunk.len() as u64);
            // A host that returns fewer bytes leaves zeros rather than
            // panicking; the interface promises exactly `len`.
            let n = bytes.len().min(chunk.len());
            chunk[..n].copy_from_slice(&bytes[..n]);
        }
    }

    pub(super) fn secure_bytes(buf: &mut [u8]) {
        fill_with(buf, random::get_random_bytes);
    }

    pub(super) fn secure_u64() -> u64 {
        random::get_random_u64()
    }

    pub(super) fn insecure_bytes(buf: &mut [u8]) {
        fill_with(buf, insecure::get_insecure_random_bytes);
    }

    pub(super) fn insecure_u64() -> u64 {
        insecure::get_insecure_random_u64()
    }

    pub(super) fn insecure_seed() -> (u64, u64) {
        insecure_seed::insecure_seed()
    }
}

#[cfg(not(target_family = "wasm"))]
mod host {
    use crate::sim;

    pub(super) fn secure_bytes(buf: &mut [u8]) {
        sim::random_bytes(buf);
    }

    pub(super) fn secure_u64() -> u64 {
        sim::random_u64()
    }

    pub(super) fn insecure_bytes(buf: &mut [u8]) {
        sim::random_bytes(buf);
    }

    pub(super) fn insecure_u64() -> u64 {
        sim::random_u64()
    }

    pub(super) fn insecure_seed() -> (u64, u64) {
        sim::random_seed()
    }
}
