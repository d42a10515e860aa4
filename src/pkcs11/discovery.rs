//! Where the usual middleware installs its PKCS#11 module, so a holder can say
//! `--pkcs11 safenet` instead of a path. The list is also in docs/cli.md.

use std::path::{Path, PathBuf};

use super::Pkcs11Error;

/// One middleware and the places its module is installed on this operating system.
#[derive(Debug, Clone, Copy)]
pub struct Middleware {
    /// The short name `--pkcs11` takes.
    pub name: &'static str,
    /// What people call it.
    pub title: &'static str,
    pub paths: &'static [&'static str],
}

#[cfg(target_os = "windows")]
const KNOWN: &[Middleware] = &[
    Middleware {
        name: "safenet",
        title: "SafeNet Authentication Client (Inera's SITHS eID app)",
        paths: &[r"C:\Windows\System32\eTPKCS11.dll"],
    },
    Middleware {
        name: "netid",
        title: "Net iD",
        paths: &[
            r"C:\Windows\System32\iidp11.dll",
            r"C:\Program Files\Net iD\iidp11.dll",
            r"C:\Program Files (x86)\Net iD\iidp11.dll",
        ],
    },
    Middleware {
        name: "opensc",
        title: "OpenSC",
        paths: &[
            r"C:\Windows\System32\opensc-pkcs11.dll",
            r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
        ],
    },
    Middleware {
        name: "softhsm",
        title: "SoftHSM2 (tests only)",
        paths: &[r"C:\SoftHSM2\lib\softhsm2-x64.dll"],
    },
];

#[cfg(target_os = "macos")]
const KNOWN: &[Middleware] = &[
    Middleware {
        name: "safenet",
        title: "SafeNet Authentication Client",
        paths: &["/usr/local/lib/libeTPkcs11.dylib"],
    },
    Middleware {
        name: "netid",
        title: "Net iD",
        paths: &[
            "/usr/local/lib/libiidp11.dylib",
            "/Library/Net iD/libiidp11.dylib",
        ],
    },
    Middleware {
        name: "opensc",
        title: "OpenSC",
        paths: &[
            "/Library/OpenSC/lib/opensc-pkcs11.so",
            "/opt/homebrew/lib/opensc-pkcs11.so",
            "/usr/local/lib/opensc-pkcs11.so",
        ],
    },
    Middleware {
        name: "softhsm",
        title: "SoftHSM2 (tests only)",
        paths: &[
            "/opt/homebrew/lib/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ],
    },
];

#[cfg(not(any(target_os = "windows", target_os = "macos")))]
const KNOWN: &[Middleware] = &[
    Middleware {
        name: "safenet",
        title: "SafeNet Authentication Client",
        paths: &[
            "/usr/lib/libeTPkcs11.so",
            "/usr/lib64/libeTPkcs11.so",
            "/usr/lib/x86_64-linux-gnu/libeTPkcs11.so",
        ],
    },
    Middleware {
        name: "netid",
        title: "Net iD",
        paths: &[
            "/usr/lib/libiidp11.so",
            "/usr/lib64/libiidp11.so",
            "/usr/local/lib/libiidp11.so",
        ],
    },
    Middleware {
        name: "opensc",
        title: "OpenSC",
        paths: &[
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
        ],
    },
    Middleware {
        name: "softhsm",
        title: "SoftHSM2 (tests only)",
        paths: &[
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib64/pkcs11/libsofthsm2.so",
        ],
    },
];

/// The middleware this build knows, in the order they are tried by [`installed`].
pub fn known() -> &'static [Middleware] {
    KNOWN
}

/// The modules of known middleware that are installed here: real card middleware first.
pub fn installed() -> Vec<(&'static Middleware, PathBuf)> {
    KNOWN
        .iter()
        .filter_map(|m| first_existing(m).map(|p| (m, p)))
        .collect()
}

fn first_existing(m: &Middleware) -> Option<PathBuf> {
    m.paths.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// A module path from what the user gave: a path (used as it is), or a known middleware's
/// name, looked up in its usual places.
pub fn resolve(given: &str) -> Result<PathBuf, Pkcs11Error> {
    if let Some(m) = KNOWN.iter().find(|m| m.name.eq_ignore_ascii_case(given)) {
        return first_existing(m).ok_or_else(|| {
            Pkcs11Error::ModuleNotFound(format!(
                "for {} (looked in {})",
                m.title,
                m.paths.join(", ")
            ))
        });
    }
    let path = Path::new(given);
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(Pkcs11Error::ModuleNotFound(given.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_only_to_installed_modules_and_paths_must_exist() {
        assert!(matches!(
            resolve("/no/such/module.so"),
            Err(Pkcs11Error::ModuleNotFound(_))
        ));
        for m in known() {
            match resolve(m.name) {
                Ok(p) => assert!(p.is_file() && m.paths.iter().any(|k| Path::new(k) == p)),
                Err(Pkcs11Error::ModuleNotFound(msg)) => assert!(msg.contains(m.paths[0])),
                Err(e) => panic!("{e}"),
            }
        }
        let names: Vec<&str> = known().iter().map(|m| m.name).collect();
        assert_eq!(names, ["safenet", "netid", "opensc", "softhsm"]);
    }
}
