//! The window's settings, kept between runs in the user's config directory, so a site sets the
//! CA once and a holder's language and chosen login certificate stay chosen.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::gui::i18n::Lang;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub lang: Lang,
    /// The CA's address, e.g. `https://ca.example:8443`.
    pub ca_url: String,
    /// The root certificate (PEM) the CA must chain to.
    pub ca_root: Option<PathBuf>,
    /// The reader to use; `None`: the first reader with a card.
    pub reader: Option<String>,
    /// Reach the card through this PKCS#11 module (path, or safenet/netid/opensc/softhsm);
    /// `None`: PC/SC with our own card commands.
    pub pkcs11_module: Option<String>,
    /// SHA-256 fingerprint of the certificate the holder chose for logging in.
    pub login_certificate: Option<String>,
    /// Desk mode: the reader of the operator's own card, and of the customer's.
    pub desk_operator_reader: Option<String>,
    pub desk_customer_reader: Option<String>,
}

/// `$XDG_CONFIG_HOME/siths-upgrade/settings.json` (or `~/.config/…`); on Windows
/// `%APPDATA%\siths-upgrade\settings.json` ([`crate::paths`]).
pub fn default_path() -> Option<PathBuf> {
    crate::paths::settings_file()
}

/// What was wrong with the saved settings file, for the window's notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsProblem {
    /// These fields (their names in the file) could not be read and are back to their
    /// defaults; every other field kept its value.
    Fields(Vec<String>),
    /// The file is not a settings file at all (not JSON, not an object): all defaults.
    Unreadable,
}

/// The settings as loaded, and what was wrong with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub settings: Settings,
    pub problem: Option<SettingsProblem>,
    /// Where the unreadable original was kept (`settings.json.bad`), when there was a problem.
    pub kept_as: Option<PathBuf>,
    /// Saving over the file is safe: nothing was wrong with it, or its original was kept
    /// beside it. When the copy could not be made the window runs without saving, so the
    /// only copy of the holder's settings is never overwritten.
    pub may_save: bool,
}

impl Settings {
    /// The saved settings; missing or unreadable settings give the defaults (and a log line),
    /// never a window that will not open. See [`Settings::load_checked`].
    pub fn load(path: &Path) -> Settings {
        Settings::load_checked(path).settings
    }

    /// The saved settings, field by field: a field that does not parse (a hand edit, a newer
    /// version's value) is logged by name and replaced alone by its default, so one bad value
    /// never resets the CA, the reader and the language together. Whenever something was
    /// unreadable the original file is first kept beside it as `settings.json.bad`, before
    /// anything can be saved over it.
    pub fn load_checked(path: &Path) -> Loaded {
        let fine = |settings| Loaded {
            settings,
            problem: None,
            kept_as: None,
            may_save: true,
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fine(Settings::default()),
            Err(e) => {
                // Unreadable as a file (permissions, a folder): nothing to keep a copy of, and
                // nothing to be saved over it this run.
                log::warn!("cannot read {}: {e}", path.display());
                return Loaded {
                    may_save: false,
                    ..fine(Settings::default())
                };
            }
        };
        let (settings, problem) = parse_fields(path, &bytes);
        let Some(problem) = problem else {
            return fine(settings);
        };
        let bad = bad_copy_path(path);
        let kept = crate::private_file::write(&bad, &bytes);
        if let Err(e) = &kept {
            log::error!(
                "cannot keep the unreadable {} as {}: {e}; the settings will not be saved this run",
                path.display(),
                bad.display()
            );
        }
        Loaded {
            settings,
            problem: Some(problem),
            may_save: kept.is_ok(),
            kept_as: kept.ok().map(|()| bad),
        }
    }

    /// Write to a temporary file and rename, so a crash never leaves half a settings file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }
}

/// `settings.json.bad` beside `settings.json`.
pub fn bad_copy_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bad");
    path.with_file_name(name)
}

/// Each known field on its own: the defaults with that one field from the file must still
/// make valid settings, or the field is reported and left at its default.
fn parse_fields(path: &Path, bytes: &[u8]) -> (Settings, Option<SettingsProblem>) {
    let file = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => {
            log::warn!(
                "ignoring {}: not a settings object; all settings are back to their defaults",
                path.display()
            );
            return (Settings::default(), Some(SettingsProblem::Unreadable));
        }
        Err(e) => {
            log::warn!(
                "ignoring {}: {e}; all settings are back to their defaults",
                path.display()
            );
            return (Settings::default(), Some(SettingsProblem::Unreadable));
        }
    };
    let serde_json::Value::Object(defaults) = serde_json::to_value(Settings::default())
        .unwrap_or_else(|_| serde_json::Value::Object(Default::default()))
    else {
        return (Settings::default(), Some(SettingsProblem::Unreadable));
    };
    let mut good = defaults.clone();
    let mut bad = Vec::new();
    for name in defaults.keys() {
        let Some(value) = file.get(name) else {
            continue;
        };
        let mut one = defaults.clone();
        one.insert(name.clone(), value.clone());
        match serde_json::from_value::<Settings>(serde_json::Value::Object(one)) {
            Ok(_) => {
                good.insert(name.clone(), value.clone());
            }
            Err(e) => {
                log::warn!(
                    "{}: the field `{name}` cannot be read ({e}); it is back to its default, \
                     the other settings are kept",
                    path.display()
                );
                bad.push(name.clone());
            }
        }
    }
    let settings = serde_json::from_value(serde_json::Value::Object(good)).unwrap_or_default();
    let problem = (!bad.is_empty()).then_some(SettingsProblem::Fields(bad));
    (settings, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Settings {
        Settings {
            lang: Lang::En,
            ca_url: "https://127.0.0.1:8443".into(),
            ca_root: Some("/tmp/root.pem".into()),
            reader: Some("Reader 0".into()),
            pkcs11_module: Some("opensc".into()),
            login_certificate: Some("AB:CD".into()),
            desk_operator_reader: Some("Reader 1".into()),
            desk_customer_reader: None,
        }
    }

    #[test]
    fn settings_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/settings.json");
        assert_eq!(Settings::load_checked(&path).problem, None);
        assert_eq!(Settings::load(&path), Settings::default());
        full().save(&path).unwrap();
        let loaded = Settings::load_checked(&path);
        assert_eq!(loaded.settings, full());
        assert!(loaded.problem.is_none() && loaded.may_save);
        assert!(!bad_copy_path(&path).exists());
    }

    #[test]
    fn one_bad_field_is_reset_alone_and_the_original_kept_beside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        full().save(&path).unwrap();
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        json["ca_root"] = 5.into();
        json["lang"] = "fr".into();
        json["from_a_newer_version"] = true.into();
        let original = serde_json::to_vec_pretty(&json).unwrap();
        std::fs::write(&path, &original).unwrap();

        let loaded = Settings::load_checked(&path);
        assert_eq!(
            loaded.problem,
            Some(SettingsProblem::Fields(vec![
                "ca_root".into(),
                "lang".into()
            ]))
        );
        assert_eq!(
            loaded.settings,
            Settings {
                lang: Lang::Sv,
                ca_root: None,
                ..full()
            },
            "every other field keeps its value"
        );
        let bad = dir.path().join("settings.json.bad");
        assert_eq!(loaded.kept_as.as_deref(), Some(bad.as_path()));
        assert!(loaded.may_save);
        assert_eq!(std::fs::read(&bad).unwrap(), original);

        // Saving now leaves the original beside the new file.
        loaded.settings.save(&path).unwrap();
        assert_eq!(std::fs::read(&bad).unwrap(), original);
        assert_eq!(Settings::load_checked(&path).problem, None);
    }

    #[test]
    fn an_unparsable_file_gives_the_defaults_and_is_kept_beside() {
        for garbage in [&b"{not json"[..], b"[1, 2]", b"\xff\xfe", b""] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("settings.json");
            std::fs::write(&path, garbage).unwrap();
            let loaded = Settings::load_checked(&path);
            assert_eq!(loaded.settings, Settings::default());
            assert_eq!(loaded.problem, Some(SettingsProblem::Unreadable));
            assert_eq!(
                std::fs::read(dir.path().join("settings.json.bad")).unwrap(),
                garbage
            );
            assert!(loaded.may_save);
        }
    }

    #[test]
    fn without_a_copy_of_the_original_nothing_is_saved_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, b"{\"lang\": 3}").unwrap();
        // A folder where the copy would go: the copy cannot be made, even by root.
        std::fs::create_dir_all(dir.path().join("settings.json.bad/x")).unwrap();
        let loaded = Settings::load_checked(&path);
        assert!(loaded.problem.is_some() && loaded.kept_as.is_none() && !loaded.may_save);
    }
}
