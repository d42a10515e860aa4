//! Where the usual middleware installs its PKCS#11 module, so a holder can say
//! `--pkcs11 safenet` instead of a path. The list is also in docs/cli.md.
//!
//! Loading a module runs its code in our process with the holder's card and PINs, so a known
//! location must be one only an administrator can create. On Windows that means the system
//! folder and the Program Files folders, read from the variables Windows sets for them
//! (`SystemRoot`, `ProgramW6432`, `ProgramFiles`, `ProgramFiles(x86)`), never a folder in a
//! drive's root such as `C:\SoftHSM2`, which any local user may create. A module elsewhere is
//! still used when its path is given.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::card::MiddlewareError;

/// One middleware and the places its module is installed on this operating system.
#[derive(Debug, Clone)]
pub struct Middleware {
    /// The short name `--pkcs11` takes.
    pub name: &'static str,
    /// What people call it.
    pub title: &'static str,
    /// Tried in this order; on Windows only those under the system and Program Files folders
    /// this computer names.
    pub paths: Vec<PathBuf>,
}

/// The platform's rules, chosen at build time; [`known_in`] takes the platform and the
/// environment as arguments so that every rule set is tested on any host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Linux,
    Mac,
    Windows,
}

const THIS_OS: Os = if cfg!(windows) {
    Os::Windows
} else if cfg!(target_os = "macos") {
    Os::Mac
} else {
    Os::Linux
};

/// Where under a protected Windows folder each module is.
enum WinDir {
    /// `%SystemRoot%\System32`.
    System32,
    /// Each Program Files folder (64-bit first, then 32-bit).
    ProgramFiles,
}

/// A middleware's short name, what people call it, and where its module is.
type Known<Place> = (&'static str, &'static str, &'static [Place]);

const WINDOWS: &[Known<(WinDir, &str)>] = &[
    (
        "safenet",
        "SafeNet Authentication Client (Inera's SITHS eID app)",
        &[(WinDir::System32, "eTPKCS11.dll")],
    ),
    (
        "netid",
        "Net iD",
        &[
            (WinDir::System32, "iidp11.dll"),
            (WinDir::ProgramFiles, r"Net iD\iidp11.dll"),
        ],
    ),
    (
        "opensc",
        "OpenSC",
        &[
            (WinDir::System32, "opensc-pkcs11.dll"),
            (
                WinDir::ProgramFiles,
                r"OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
            ),
        ],
    ),
    (
        "softhsm",
        "SoftHSM2 (tests only)",
        &[(WinDir::ProgramFiles, r"SoftHSM2\lib\softhsm2-x64.dll")],
    ),
];

const MACOS: &[Known<&str>] = &[
    (
        "safenet",
        "SafeNet Authentication Client",
        &["/usr/local/lib/libeTPkcs11.dylib"],
    ),
    (
        "netid",
        "Net iD",
        &[
            "/usr/local/lib/libiidp11.dylib",
            "/Library/Net iD/libiidp11.dylib",
        ],
    ),
    (
        "opensc",
        "OpenSC",
        &[
            "/Library/OpenSC/lib/opensc-pkcs11.so",
            "/opt/homebrew/lib/opensc-pkcs11.so",
            "/usr/local/lib/opensc-pkcs11.so",
        ],
    ),
    (
        "softhsm",
        "SoftHSM2 (tests only)",
        &[
            "/opt/homebrew/lib/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ],
    ),
];

const LINUX: &[Known<&str>] = &[
    (
        "safenet",
        "SafeNet Authentication Client",
        &[
            "/usr/lib/libeTPkcs11.so",
            "/usr/lib64/libeTPkcs11.so",
            "/usr/lib/x86_64-linux-gnu/libeTPkcs11.so",
        ],
    ),
    (
        "netid",
        "Net iD",
        &[
            "/usr/lib/libiidp11.so",
            "/usr/lib64/libiidp11.so",
            "/usr/local/lib/libiidp11.so",
        ],
    ),
    (
        "opensc",
        "OpenSC",
        &[
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
        ],
    ),
    (
        "softhsm",
        "SoftHSM2 (tests only)",
        &[
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib64/pkcs11/libsofthsm2.so",
        ],
    ),
];

/// The middleware this build knows, in the order they are tried by [`installed`].
pub fn known() -> Vec<Middleware> {
    known_in(THIS_OS, |name| std::env::var_os(name))
}

fn known_in(os: Os, env: impl Fn(&str) -> Option<OsString>) -> Vec<Middleware> {
    let fixed = |list: &[Known<&str>]| {
        list.iter()
            .map(|(name, title, paths)| Middleware {
                name,
                title,
                paths: paths.iter().map(PathBuf::from).collect(),
            })
            .collect()
    };
    match os {
        Os::Linux => fixed(LINUX),
        Os::Mac => fixed(MACOS),
        Os::Windows => {
            let system32: Vec<String> = ["SystemRoot", "windir"]
                .iter()
                .find_map(|v| protected_windows_folder(env(v)))
                .map(|root| format!(r"{root}\System32"))
                .into_iter()
                .collect();
            // A 64-bit process sees ProgramFiles = ProgramW6432; a 32-bit one sees the x86
            // folder there. Each folder once, 64-bit first.
            let mut program_files: Vec<String> = Vec::new();
            for v in ["ProgramW6432", "ProgramFiles", "ProgramFiles(x86)"] {
                if let Some(dir) = protected_windows_folder(env(v))
                    && !program_files.iter().any(|d| d.eq_ignore_ascii_case(&dir))
                {
                    program_files.push(dir);
                }
            }
            WINDOWS
                .iter()
                .map(|(name, title, places)| Middleware {
                    name,
                    title,
                    paths: places
                        .iter()
                        .flat_map(|(dir, rel)| {
                            let roots = match dir {
                                WinDir::System32 => &system32,
                                WinDir::ProgramFiles => &program_files,
                            };
                            roots
                                .iter()
                                .map(move |r| PathBuf::from(format!(r"{r}\{rel}")))
                        })
                        .collect(),
                })
                .collect()
        }
    }
}

/// A Windows system or Program Files folder from its variable: a local absolute path below a
/// drive's root (`C:\Program Files`), normalised without a trailing `\`. A drive's root itself
/// (where any user may create folders), a relative path, a network share or a `..` is not
/// one, and gives no known location.
fn protected_windows_folder(value: Option<OsString>) -> Option<String> {
    let value = value?.into_string().ok()?;
    let value = value.trim().trim_end_matches(['\\', '/']);
    let bytes = value.as_bytes();
    let drive = bytes.len() > 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && (bytes[2] == b'\\' || bytes[2] == b'/');
    if !drive {
        return None;
    }
    let parts: Vec<&str> = value[3..].split(['\\', '/']).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains(':'))
    {
        return None;
    }
    Some(format!(r"{}\{}", &value[..2], parts.join(r"\")))
}

/// The modules of known middleware that are installed here: real card middleware first.
pub fn installed() -> Vec<(Middleware, PathBuf)> {
    known()
        .into_iter()
        .filter_map(|m| first_existing(&m).map(|p| (m, p)))
        .collect()
}

fn first_existing(m: &Middleware) -> Option<PathBuf> {
    m.paths.iter().find(|p| p.is_file()).cloned()
}

/// A module path from what the user gave: a path (used as it is), or a known middleware's
/// name, looked up in its usual places.
pub fn resolve(given: &str) -> Result<PathBuf, MiddlewareError> {
    if let Some(m) = known()
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(given))
    {
        return first_existing(&m).ok_or_else(|| not_found(&m));
    }
    let path = Path::new(given);
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(MiddlewareError::ModuleNotFound(given.to_string()))
    }
}

fn not_found(m: &Middleware) -> MiddlewareError {
    if m.paths.is_empty() {
        return MiddlewareError::ModuleNotFound(format!(
            "for {} (this computer names no system or Program Files folder to look in)",
            m.title
        ));
    }
    let places: Vec<String> = m.paths.iter().map(|p| p.display().to_string()).collect();
    MiddlewareError::ModuleNotFound(format!("for {} (looked in {})", m.title, places.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(n, v)| (n.to_string(), OsString::from(v)))
            .collect();
        move |name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// What a 64-bit process on a standard Windows installation sees.
    const WINDOWS_ENV: &[(&str, &str)] = &[
        ("SystemRoot", r"C:\Windows"),
        ("windir", r"C:\Windows"),
        ("ProgramFiles", r"C:\Program Files"),
        ("ProgramW6432", r"C:\Program Files"),
        ("ProgramFiles(x86)", r"C:\Program Files (x86)"),
        ("USERPROFILE", r"C:\Users\karin"),
    ];

    fn paths(list: &[Middleware], name: &str) -> Vec<String> {
        list.iter()
            .find(|m| m.name == name)
            .unwrap()
            .paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn windows_modules_are_looked_for_only_in_system32_and_program_files() {
        let list = known_in(Os::Windows, with(WINDOWS_ENV));
        assert_eq!(
            paths(&list, "softhsm"),
            [
                r"C:\Program Files\SoftHSM2\lib\softhsm2-x64.dll",
                r"C:\Program Files (x86)\SoftHSM2\lib\softhsm2-x64.dll",
            ]
        );
        assert_eq!(
            paths(&list, "netid"),
            [
                r"C:\Windows\System32\iidp11.dll",
                r"C:\Program Files\Net iD\iidp11.dll",
                r"C:\Program Files (x86)\Net iD\iidp11.dll",
            ]
        );
        assert_eq!(
            paths(&list, "safenet"),
            [r"C:\Windows\System32\eTPKCS11.dll"]
        );
        for m in &list {
            assert!(!m.paths.is_empty(), "{}", m.name);
            for p in &m.paths {
                let p = p.to_string_lossy();
                assert!(
                    [
                        r"C:\Windows\System32\",
                        r"C:\Program Files\",
                        r"C:\Program Files (x86)\"
                    ]
                    .iter()
                    .any(|root| p.starts_with(root)),
                    "{p} is outside the protected folders"
                );
            }
        }
    }

    #[test]
    fn windows_folders_come_from_the_environment_and_a_drive_root_is_never_one() {
        // Windows installed on D:, 32-bit Program Files only.
        let list = known_in(
            Os::Windows,
            with(&[
                ("SystemRoot", r"D:\WINDOWS\"),
                ("ProgramFiles", r"D:\Program Files (x86)"),
            ]),
        );
        assert_eq!(
            paths(&list, "opensc"),
            [
                r"D:\WINDOWS\System32\opensc-pkcs11.dll",
                r"D:\Program Files (x86)\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
            ]
        );
        // Nothing set, or only values any user's folder could be: no known place at all.
        for env in [
            with(&[]),
            with(&[
                ("SystemRoot", r"C:\"),
                ("ProgramFiles", "C:"),
                ("ProgramW6432", r"Program Files"),
                ("ProgramFiles(x86)", r"\\server\share\Program Files"),
                ("windir", r"C:\Windows\..\SoftHSM2"),
            ]),
        ] {
            let list = known_in(Os::Windows, env);
            assert!(list.iter().all(|m| m.paths.is_empty()), "{list:?}");
            let err = not_found(&list[3]).to_string();
            assert!(err.contains("give the module's full path"), "{err}");
        }
    }

    #[test]
    fn unix_lists_are_fixed_system_paths() {
        for os in [Os::Linux, Os::Mac] {
            let list = known_in(os, with(WINDOWS_ENV));
            let names: Vec<&str> = list.iter().map(|m| m.name).collect();
            assert_eq!(names, ["safenet", "netid", "opensc", "softhsm"]);
            assert!(
                list.iter()
                    .flat_map(|m| &m.paths)
                    .all(|p| p.to_string_lossy().starts_with('/'))
            );
        }
        assert_eq!(
            paths(&known_in(Os::Linux, with(&[])), "softhsm")[0],
            "/usr/lib/softhsm/libsofthsm2.so"
        );
    }

    #[test]
    fn names_resolve_only_to_installed_modules_and_paths_must_exist() {
        assert!(matches!(
            resolve("/no/such/module.so"),
            Err(MiddlewareError::ModuleNotFound(_))
        ));
        for m in known() {
            match resolve(m.name) {
                Ok(p) => assert!(p.is_file() && m.paths.contains(&p)),
                Err(MiddlewareError::ModuleNotFound(msg)) => {
                    assert!(msg.contains(&*m.paths[0].to_string_lossy()), "{msg}")
                }
                Err(e) => panic!("{e}"),
            }
        }
        let names: Vec<&str> = known().iter().map(|m| m.name).collect();
        assert_eq!(names, ["safenet", "netid", "opensc", "softhsm"]);
    }
}
