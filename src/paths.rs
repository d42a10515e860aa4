//! Where the program keeps its files in the user's profile: the XDG base directories on Linux
//! (and any other Unix), the folders Windows names in `%APPDATA%` (roaming: follows the user to
//! another computer) and `%LOCALAPPDATA%` (this computer only).
//!
//! | what | Linux | Windows |
//! |---|---|---|
//! | the window's settings | `$XDG_CONFIG_HOME/siths-upgrade/settings.json`, else `~/.config/…` | `%APPDATA%\siths-upgrade\settings.json` |
//! | the demo's CA world | `$XDG_CACHE_HOME/siths-upgrade/`, else `~/.cache/…` | `%LOCALAPPDATA%\siths-upgrade\cache\` |
//! | the desk's audit log | `$XDG_DATA_HOME/siths-upgrade/audit.log`, else `~/.local/share/…` | `%LOCALAPPDATA%\siths-upgrade\audit.log` |
//! | where certificates are saved | `$HOME` | `%USERPROFILE%` |
//!
//! The audit log is local, not roaming, on Windows: it is the desk computer's record, and a
//! roaming copy synchronised between two desks would break its hash chain.
//!
//! Without those variables there is no folder of the user's own, and the demo and the desk
//! refuse with [`NoProfileFolder`] (naming what to set) rather than fall back to the temporary
//! directory or the working directory, where another local user may have made the folder first.
//! The folders themselves are made owner-only and checked when they exist
//! ([`crate::private_file::ensure_private_dir`]).

use std::ffi::OsString;
use std::path::PathBuf;

const APP: &str = "siths-upgrade";

/// The platform rules, chosen at build time; the functions below take the platform and the
/// environment as arguments so that both rule sets are tested on any host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Unix,
    Windows,
}

const THIS_OS: Os = if cfg!(windows) { Os::Windows } else { Os::Unix };

fn env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// The window's settings file; `None` when the environment names no profile folder (the window
/// then runs on defaults and does not save).
pub fn settings_file() -> Option<PathBuf> {
    settings_file_in(THIS_OS, env)
}

/// The environment names no folder of the user's own for `what`; set one of `set`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} needs a folder of your own, and the environment names none: set {set} (normally set \
     when you log in) and start again"
)]
pub struct NoProfileFolder {
    pub what: &'static str,
    pub set: &'static str,
}

/// The folder the demo's CA world is cached in between runs.
pub fn cache_dir() -> Result<PathBuf, NoProfileFolder> {
    cache_dir_in(THIS_OS, env).ok_or(NoProfileFolder {
        what: "the demo",
        set: needed(THIS_OS, "XDG_CACHE_HOME"),
    })
}

/// The service-centre desk's audit log: data the service centre must keep, not a cache, and
/// never in a temporary or the working directory.
pub fn audit_log() -> Result<PathBuf, NoProfileFolder> {
    data_dir_in(THIS_OS, env)
        .map(|dir| dir.join("audit.log"))
        .ok_or(NoProfileFolder {
            what: "the desk's audit log",
            set: needed(THIS_OS, "XDG_DATA_HOME"),
        })
}

/// The variables that name the folder: `HOME` (or the XDG one) on Unix, `LOCALAPPDATA` on
/// Windows.
fn needed(os: Os, xdg: &'static str) -> &'static str {
    match (os, xdg) {
        (Os::Windows, _) => "LOCALAPPDATA",
        (Os::Unix, "XDG_CACHE_HOME") => "HOME (or XDG_CACHE_HOME) to an absolute path",
        (Os::Unix, _) => "HOME (or XDG_DATA_HOME) to an absolute path",
    }
}

/// The user's own folder (where the window offers to save certificates).
pub fn home_dir() -> Option<PathBuf> {
    home_dir_in(THIS_OS, env)
}

/// An absolute path from the variable `name`; a relative or missing one does not count.
fn absolute(env: &impl Fn(&str) -> Option<OsString>, name: &str) -> Option<PathBuf> {
    env(name).map(PathBuf::from).filter(|p| p.is_absolute())
}

fn settings_file_in(os: Os, env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let base = match os {
        // The settings' rule since 0.1.0 (unlike the cache and the log, any non-empty
        // XDG_CONFIG_HOME and any HOME count).
        Os::Unix => env("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))?,
        Os::Windows => absolute(&env, "APPDATA")?,
    };
    Some(base.join(APP).join("settings.json"))
}

fn cache_dir_in(os: Os, env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    match os {
        Os::Unix => absolute(&env, "XDG_CACHE_HOME")
            .or_else(|| absolute(&env, "HOME").map(|h| h.join(".cache")))
            .map(|base| base.join(APP)),
        Os::Windows => absolute(&env, "LOCALAPPDATA").map(|base| base.join(APP).join("cache")),
    }
}

fn data_dir_in(os: Os, env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let base = match os {
        Os::Unix => absolute(&env, "XDG_DATA_HOME")
            .or_else(|| absolute(&env, "HOME").map(|h| h.join(".local").join("share")))?,
        Os::Windows => absolute(&env, "LOCALAPPDATA")?,
    };
    Some(base.join(APP))
}

fn home_dir_in(os: Os, env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    match os {
        Os::Unix => env("HOME").map(PathBuf::from),
        Os::Windows => absolute(&env, "USERPROFILE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rel` as an absolute path on the host the tests run on (`/…` or `C:\…`): both rule sets
    /// are tested on Linux and on Windows.
    fn abs(rel: &str) -> PathBuf {
        let root = if cfg!(windows) { "C:\\" } else { "/" };
        rel.split('/')
            .fold(PathBuf::from(root), |p, part| p.join(part))
    }

    /// An environment with exactly these variables; values are host-absolute paths, except
    /// those starting with `./`.
    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(n, v)| {
                let value = match v.strip_prefix("./") {
                    Some(relative) => OsString::from(relative),
                    None => abs(v).into_os_string(),
                };
                (n.to_string(), value)
            })
            .collect();
        move |name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    const WINDOWS: &[(&str, &str)] = &[
        ("APPDATA", "Users/karin/AppData/Roaming"),
        ("LOCALAPPDATA", "Users/karin/AppData/Local"),
        ("USERPROFILE", "Users/karin"),
        // Set by some shells on Windows too; must not be used there.
        ("HOME", "home/karin"),
        ("XDG_CONFIG_HOME", "xdg/config"),
        ("XDG_CACHE_HOME", "xdg/cache"),
        ("XDG_DATA_HOME", "xdg/data"),
    ];

    #[test]
    fn windows_uses_roaming_for_settings_and_local_for_cache_and_log() {
        let p = |s: &str| Some(abs(s));
        assert_eq!(
            settings_file_in(Os::Windows, with(WINDOWS)),
            p("Users/karin/AppData/Roaming/siths-upgrade/settings.json")
        );
        assert_eq!(
            cache_dir_in(Os::Windows, with(WINDOWS)),
            p("Users/karin/AppData/Local/siths-upgrade/cache")
        );
        assert_eq!(
            data_dir_in(Os::Windows, with(WINDOWS)),
            p("Users/karin/AppData/Local/siths-upgrade")
        );
        assert_eq!(home_dir_in(Os::Windows, with(WINDOWS)), p("Users/karin"));
    }

    #[test]
    fn windows_without_profile_folders_has_none() {
        let env = with(&[("HOME", "home/karin"), ("APPDATA", "./relative")]);
        assert_eq!(settings_file_in(Os::Windows, &env), None);
        assert_eq!(cache_dir_in(Os::Windows, &env), None);
        assert_eq!(data_dir_in(Os::Windows, &env), None);
        assert_eq!(home_dir_in(Os::Windows, &env), None);
    }

    #[test]
    fn unix_prefers_xdg_then_home() {
        let p = |s: &str| Some(abs(s));
        assert_eq!(
            settings_file_in(Os::Unix, with(WINDOWS)),
            p("xdg/config/siths-upgrade/settings.json")
        );
        assert_eq!(
            cache_dir_in(Os::Unix, with(WINDOWS)),
            p("xdg/cache/siths-upgrade")
        );
        assert_eq!(
            data_dir_in(Os::Unix, with(WINDOWS)),
            p("xdg/data/siths-upgrade")
        );
        assert_eq!(home_dir_in(Os::Unix, with(WINDOWS)), p("home/karin"));

        let home = with(&[("HOME", "home/karin"), ("XDG_CACHE_HOME", "./relative")]);
        assert_eq!(
            settings_file_in(Os::Unix, &home),
            p("home/karin/.config/siths-upgrade/settings.json")
        );
        assert_eq!(
            cache_dir_in(Os::Unix, &home),
            p("home/karin/.cache/siths-upgrade")
        );
        assert_eq!(
            data_dir_in(Os::Unix, &home),
            p("home/karin/.local/share/siths-upgrade")
        );
    }

    #[test]
    fn unix_without_home_has_none() {
        let env = with(&[]);
        assert_eq!(settings_file_in(Os::Unix, &env), None);
        assert_eq!(cache_dir_in(Os::Unix, &env), None);
        assert_eq!(data_dir_in(Os::Unix, &env), None);
    }

    #[test]
    fn without_a_folder_the_error_names_the_variable_to_set() {
        assert_eq!(needed(Os::Windows, "XDG_DATA_HOME"), "LOCALAPPDATA");
        assert!(needed(Os::Unix, "XDG_CACHE_HOME").contains("HOME (or XDG_CACHE_HOME)"));
        let text = NoProfileFolder {
            what: "the desk's audit log",
            set: needed(Os::Unix, "XDG_DATA_HOME"),
        }
        .to_string();
        assert!(
            text.starts_with("the desk's audit log needs a folder of your own")
                && text.contains("set HOME (or XDG_DATA_HOME)"),
            "{text}"
        );
    }
}
