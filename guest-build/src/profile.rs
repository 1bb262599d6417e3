//! The two ways guests are compiled: fully optimised for what is measured,
//! quick to rebuild for what is tested.

use std::fmt;
use std::str::FromStr;

/// How the pipeline compiles the guests. Both profiles are cargo profiles
/// of the guest workspace (`guest-examples/Cargo.toml`).
///
/// # Examples
///
/// ```
/// use wasync_build::GuestProfile;
///
/// let test: GuestProfile = "test".parse().unwrap();
/// assert_eq!(test.cargo_profile(), "guest-test");
/// assert_eq!(GuestProfile::Release.to_string(), "release");
/// assert!("fast".parse::<GuestProfile>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GuestProfile {
    /// cargo's `release` profile with one codegen unit: what the demo and
    /// the benchmarks run, so their figures are those of shipped code.
    #[default]
    Release,
    /// The `guest-test` profile (opt-level 1, many codegen units,
    /// incremental): what `cargo test` runs. The components behave the
    /// same; they rebuild in a fraction of the time and run a little
    /// slower.
    Test,
}

impl GuestProfile {
    /// The name of the cargo profile (`--profile`), which is also the
    /// folder cargo writes its output to.
    pub fn cargo_profile(self) -> &'static str {
        match self {
            GuestProfile::Release => "release",
            GuestProfile::Test => "guest-test",
        }
    }

    /// The folder, under the pipeline's target folder, that holds this
    /// profile's components and their stamps.
    pub fn wasm_folder(self) -> &'static str {
        match self {
            GuestProfile::Release => "wasm",
            GuestProfile::Test => "wasm-test",
        }
    }
}

impl fmt::Display for GuestProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuestProfile::Release => "release",
            GuestProfile::Test => "test",
        })
    }
}

/// A profile name other than `release` and `test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown guest profile `{}`: expected \"release\" (fully optimised) or \"test\" (quick to rebuild)",
            self.0
        )
    }
}

impl std::error::Error for UnknownProfile {}

impl FromStr for GuestProfile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<GuestProfile, UnknownProfile> {
        match s {
            "release" => Ok(GuestProfile::Release),
            "test" => Ok(GuestProfile::Test),
            other => Err(UnknownProfile(other.to_owned())),
        }
    }
}
