//! The demo: a pre-upgrade virtual card and the CA mock, both in this process, so a newcomer
//! sees the whole upgrade with no pcscd, no reader and no setup.
//!
//! A complete `ca-mock init` world costs seconds (an RSA-4096 root and a card per test person,
//! every key generated), too long for the first thing a newcomer sees. The demo's world is made
//! instead from the TEST keys shipped in assets/demo-test-world, with certificates issued at
//! that moment and only the two cards the demo opens at once ([`mock::init::init_demo`]: well
//! under a second); another person's card is made when [`DemoWorld::seat`] first asks for it.
//! The world is kept per crate version in the user's cache, made atomically, and every demo run
//! works on a private copy: each run starts with the same fresh pre-upgrade card, an empty CA
//! store and an upgrade deadline half a year ahead.

use std::path::{Path, PathBuf};

use crate::ca::mock::{self, MockDir, MockError, MockHandle};
use crate::gui::protocol::CaSettings;
pub use crate::gui::protocol::DemoCodes;
use crate::provision::DEMO_HSA_ID;
use crate::virtual_card::{self, Layout, SharedVirtualCard, StateError, VirtualCard};

/// The demo's card and CA: what a newcomer needs to see the whole upgrade with no hardware.
pub struct DemoWorld {
    /// The demo holder's pre-upgrade card; tests keep a clone to pull it.
    pub card: SharedVirtualCard,
    /// The mock's address and the root its server and certificates chain to.
    pub ca: CaSettings,
    /// Shown on screen in demo mode: it is not a real card, and the newcomer needs the codes.
    pub codes: DemoCodes,
    /// The demo holder's HSA-id.
    pub holder: String,
    // Declared before `dir` so the server stops before its files are removed.
    mock: MockHandle,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for DemoWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoWorld")
            .field("ca", &self.ca)
            .field("holder", &self.holder)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// One more demo card in a [`DemoWorld`] (the desk's operator card).
#[derive(Debug, Clone)]
pub struct DemoSeat {
    pub card: SharedVirtualCard,
    pub codes: DemoCodes,
    pub holder: String,
}

/// The HSA-id of the test persons' service-centre operator (assets/test-persons.json).
pub const DEMO_OPERATOR_HSA_ID: &str = crate::provision::DEMO_OPERATOR_HSA_ID;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the demo files cannot be made in {0} ({1}); check that the disk has room and the directory is writable"
    )]
    Files(PathBuf, std::io::Error),
    #[error("the demo CA could not be set up: {0}")]
    Ca(#[from] MockError),
    #[error("{0}")]
    NoFolder(#[from] crate::paths::NoProfileFolder),
    #[error("the demo's cache cannot be used: {0}")]
    Cache(#[from] crate::private_file::PrivateError),
    #[error(
        "the demo card {0} cannot be opened ({1}); remove the demo cache {2} and start the demo again"
    )]
    // Boxed: on Windows a PathBuf is larger, and the error must stay small to pass around.
    Card(PathBuf, Box<StateError>, PathBuf),
    #[error(
        "the demo card's code letter {0} is unreadable; remove the demo cache {1} and start the demo again"
    )]
    Codes(PathBuf, PathBuf),
}

impl DemoWorld {
    /// Blocking (well under a second on first use, then a copy of the cached world). The cache is
    /// `$XDG_CACHE_HOME/siths-upgrade`, else `~/.cache/siths-upgrade`; on Windows
    /// `%LOCALAPPDATA%\siths-upgrade\cache` ([`crate::paths`]). Without any of them the demo
    /// refuses, naming what to set: a shared temporary folder could hold a world another user
    /// made.
    pub fn prepare() -> Result<DemoWorld, DemoError> {
        DemoWorld::prepare_in(&cache_root()?)
    }

    /// Like [`DemoWorld::prepare`] with the cache under `cache` (tests use their own).
    pub fn prepare_in(cache: &Path) -> Result<DemoWorld, DemoError> {
        DemoWorld::prepare_layout_in(cache, Layout::Pkcs15)
    }

    /// Like [`DemoWorld::prepare`] with the demo cards in `layout` (`demo --layout idprime`:
    /// laid out as current SITHS cards are), each layout's world cached on its own.
    pub fn prepare_layout(layout: Layout) -> Result<DemoWorld, DemoError> {
        DemoWorld::prepare_layout_in(&cache_root()?, layout)
    }

    /// Like [`DemoWorld::prepare_layout`] with the cache under `cache`.
    pub fn prepare_layout_in(cache: &Path, layout: Layout) -> Result<DemoWorld, DemoError> {
        let started = std::time::Instant::now();
        let (world, made) = cached_world(cache, layout)?;
        let dir = crate::private_file::private_dir_builder("siths-upgrade-demo-")
            .tempdir()
            .map_err(|e| DemoError::Files(std::env::temp_dir(), e))?;
        let ca_dir = dir.path().join("ca");
        copy_dir(&world, &ca_dir)?;
        let md = MockDir::new(&ca_dir);
        // A cached world keeps the upgrade deadline it was made with; a demo started months
        // later must still be able to upgrade, so each run's copy gets one half a year ahead.
        let deadline =
            crate::pki::date::Date::from_unix(crate::pki::date::now_unix() + 183 * 86_400);
        md.set_deadline(&deadline.to_string())?;
        let mock = mock::start(md.path(), "127.0.0.1:0")?;
        let state = md.card_state(DEMO_HSA_ID);
        let card = VirtualCard::open(&state)
            .map_err(|e| DemoError::Card(state.clone(), Box::new(e), world.clone()))?;
        let codes = read_codes(&md.card_pins(DEMO_HSA_ID))
            .ok_or_else(|| DemoError::Codes(md.card_pins(DEMO_HSA_ID), world.clone()))?;
        // What the gui bench times (spawn to this line): the newcomer's wait.
        log::info!(
            target: "siths_upgrade::startup",
            "demo card and CA ready after {:.3} s ({})",
            started.elapsed().as_secs_f64(),
            if made { "world made, the cache was empty" } else { "cached world" }
        );
        Ok(DemoWorld {
            card: virtual_card::share_virtual_card(card),
            ca: CaSettings {
                url: mock.url(),
                root_pem: Some(md.root_pem()),
            },
            codes,
            holder: DEMO_HSA_ID.to_string(),
            mock,
            dir,
        })
    }

    /// Another person's card from the same CA world, e.g. the service-centre operator's for
    /// the desk demo: both cards then log in to the one CA mock. The operator's card is in the
    /// world from the start; any other is made now, in this run's copy (seconds: its keys are
    /// generated by the card).
    pub fn seat(&self, hsa_id: &str) -> Result<DemoSeat, DemoError> {
        let md = MockDir::new(self.dir.path().join("ca"));
        mock::init::ensure_card(&md, hsa_id)?;
        let state = md.card_state(hsa_id);
        let card = VirtualCard::open(&state)
            .map_err(|e| DemoError::Card(state.clone(), Box::new(e), md.path().to_path_buf()))?;
        let codes = read_codes(&md.card_pins(hsa_id))
            .ok_or_else(|| DemoError::Codes(md.card_pins(hsa_id), md.path().to_path_buf()))?;
        Ok(DemoSeat {
            card: virtual_card::share_virtual_card(card),
            codes,
            holder: hsa_id.to_string(),
        })
    }

    /// The running CA mock, for tests that look at what it issued.
    pub fn mock(&self) -> &MockHandle {
        &self.mock
    }
}

/// Where the demo CA world is cached between runs.
pub fn cache_root() -> Result<PathBuf, crate::paths::NoProfileFolder> {
    crate::paths::cache_dir()
}

/// The cached CA world of this version under `cache`, and whether it was made now. Made in a
/// temporary sibling and renamed into place, so a run that is killed half-way leaves no half
/// world. The cache folder is made owner-only, and one that is there must be the user's and
/// writable by no one else: the world in it holds the demo's keys and codes, and the demo
/// trusts its root.
fn cached_world(cache: &Path, layout: Layout) -> Result<(PathBuf, bool), DemoError> {
    crate::private_file::ensure_private_dir(cache)?;
    let suffix = match layout {
        Layout::Pkcs15 => "",
        Layout::Idprime => "-idprime",
    };
    let target = cache.join(format!("demo-ca-{}{suffix}", env!("CARGO_PKG_VERSION")));
    if is_complete(&target) {
        return Ok((target, false));
    }
    let files = |e| DemoError::Files(cache.to_path_buf(), e);
    let prefix = format!("{BUILDING_PREFIX}{}-", std::process::id());
    let building = crate::private_file::private_dir_builder(&prefix)
        .tempdir_in(cache)
        .map_err(files)?;
    remove_stale_builds(cache, building.path());
    mock::init::init_demo(building.path(), layout)?;
    if target.exists() && !is_complete(&target) {
        // A world from an older layout or damaged by hand: replace it.
        std::fs::remove_dir_all(&target).map_err(files)?;
    }
    match std::fs::rename(building.path(), &target) {
        Ok(()) => Ok((target, true)),
        // Another demo finished first; its world is as good as ours.
        Err(_) if is_complete(&target) => Ok((target, true)),
        Err(e) => Err(files(e)),
    }
}

/// A world being built: `.demo-ca-building-<pid>-<random>`.
const BUILDING_PREFIX: &str = ".demo-ca-building-";

/// A build older than this is abandoned even if its process id is in use again (a build takes
/// well under a second).
const STALE_BUILD_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Remove the half-built worlds that killed runs left in the cache: those whose process is gone,
/// and any older than [`STALE_BUILD_AGE`]. A build another running demo is making is left alone.
/// Age is told by the file system's own clock (against `fresh`, the build this run just made), not
/// the system clock: after the clock is moved (or under `faketime`) every folder would look
/// old, and another demo's build would be taken from under it. Failing to remove one only costs
/// disk space, so errors are logged, not returned.
fn remove_stale_builds(cache: &Path, fresh: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let reference = modified(fresh);
    for entry in entries.flatten() {
        if entry.path() == fresh {
            continue;
        }
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(BUILDING_PREFIX)) else {
            continue;
        };
        let owner: Option<u32> = rest.split('-').next().and_then(|pid| pid.parse().ok());
        // Without /proc (Windows, macOS) another process's build counts as running: only its
        // age removes it.
        let alive = owner.is_some_and(|pid| {
            pid == std::process::id()
                || !cfg!(target_os = "linux")
                || Path::new(&format!("/proc/{pid}")).exists()
        });
        let old = modified(&entry.path())
            .zip(reference)
            .and_then(|(then, now)| now.duration_since(then).ok())
            .is_some_and(|age| age > STALE_BUILD_AGE);
        if !alive || old {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                log::warn!("cannot remove the stale {}: {e}", entry.path().display());
            }
        }
    }
}

/// A world holds what the demo opens.
fn is_complete(world: &Path) -> bool {
    let md = MockDir::new(world);
    md.root_pem().is_file()
        && md.config_json().is_file()
        && md.card_state(DEMO_HSA_ID).is_file()
        && md.card_pins(DEMO_HSA_ID).is_file()
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), DemoError> {
    let files = |p: &Path| {
        let p = p.to_path_buf();
        move |e| DemoError::Files(p, e)
    };
    // DIR holds keys and codes: its folders are 0700 like the world they copy (files keep
    // their 0600 in the copy).
    crate::private_file::create_dir_all(to).map_err(files(to))?;
    for entry in std::fs::read_dir(from).map_err(files(from))? {
        let entry = entry.map_err(files(from))?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(files(from))?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(files(&target))?;
        }
    }
    Ok(())
}

/// `PIN1=…`, `PIN2=…`, `PUK=…` lines.
fn read_codes(path: &Path) -> Option<DemoCodes> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).ok()?);
    let code = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let codes = DemoCodes {
        pin1: code("PIN1")?,
        pin2: code("PIN2")?,
        puk: code("PUK")?,
    };
    Some(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_letter_is_read_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pins");
        std::fs::write(&path, "PIN1=135790\nPIN2=246802\nPUK=13572468\n").unwrap();
        let codes = read_codes(&path).unwrap();
        assert_eq!(
            (codes.pin1.as_str(), codes.pin2.as_str(), codes.puk.as_str()),
            ("135790", "246802", "13572468")
        );
        assert!(!format!("{codes:?}").contains("135790"));
        std::fs::write(&path, "PIN1=135790\n").unwrap();
        assert!(read_codes(&path).is_none());
    }

    #[test]
    #[cfg(target_os = "linux")] // a dead process is told by /proc
    fn builds_left_by_killed_runs_are_removed() {
        let cache = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let dir = cache.path().join(name);
            std::fs::create_dir_all(dir.join("ca")).unwrap();
            dir
        };
        // A process that has ended: its id names no running process.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let killed = make(&format!(".demo-ca-building-{dead}-abc"));
        let unrelated = make(".demo-ca-buildingXYZ");
        let ours = make(&format!(".demo-ca-building-{}-def", std::process::id()));
        let old_ours = make(&format!(".demo-ca-building-{}-ghi", std::process::id()));
        let fresh = make(&format!(".demo-ca-building-{}-jkl", std::process::id()));
        let now = std::fs::metadata(&fresh).unwrap().modified().unwrap();
        std::fs::File::open(&old_ours)
            .unwrap()
            .set_modified(now - 2 * STALE_BUILD_AGE)
            .unwrap();
        let world = make("demo-ca-0.1.0");
        remove_stale_builds(cache.path(), &fresh);
        assert!(!killed.exists(), "a killed run's build is left");
        assert!(!old_ours.exists(), "an hour-old build is left");
        assert!(ours.exists(), "a running build was removed");
        assert!(fresh.exists(), "the build being made was removed");
        assert!(
            world.exists() && unrelated.exists(),
            "other folders were touched"
        );
    }
}
