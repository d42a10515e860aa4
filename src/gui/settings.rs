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

impl Settings {
    /// The saved settings; missing or unreadable settings give the defaults (and a log line),
    /// never a window that will not open.
    pub fn load(path: &Path) -> Settings {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                log::warn!("ignoring {}: {e}", path.display());
                Settings::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                log::warn!("cannot read {}: {e}", path.display());
                Settings::default()
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_restart_and_garbage_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/settings.json");
        assert_eq!(Settings::load(&path), Settings::default());
        let s = Settings {
            lang: Lang::En,
            ca_url: "https://127.0.0.1:8443".into(),
            ca_root: Some("/tmp/root.pem".into()),
            reader: Some("Reader 0".into()),
            pkcs11_module: Some("opensc".into()),
            login_certificate: Some("AB:CD".into()),
            desk_operator_reader: Some("Reader 1".into()),
            desk_customer_reader: None,
        };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path), s);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Settings::load(&path), Settings::default());
    }
}
