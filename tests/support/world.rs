//! What `ca-mock init` makes, once per test binary (it takes seconds: an RSA-4096 root and a
//! card per person): tests copy it, never change it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use siths_upgrade::card::SithsCard;
use siths_upgrade::provision::{Codes, DEMO_SERIAL, demo_holder, make_pre_upgrade_card};
use siths_upgrade::virtual_card::memory::MemoryTransport;
use siths_upgrade::virtual_card::{self, Layout, VirtualCard};

/// The CA world made in-process by `siths_upgrade::ca::mock::init`.
pub fn world() -> &'static Path {
    world_in(Layout::Pkcs15)
}

/// The CA world with every card in `layout` (`ca-mock init --layout`), made once per binary
/// and layout.
pub fn world_in(layout: Layout) -> &'static Path {
    static PKCS15: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    static IDPRIME: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let world = match layout {
        Layout::Pkcs15 => &PKCS15,
        Layout::Idprime => &IDPRIME,
    };
    let (_, dir) = world.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        let summary = siths_upgrade::ca::mock::init::init_with_persons(
            &dir,
            siths_upgrade::ca::mock::persons::BUILTIN_PERSONS_JSON,
            layout,
        )
        .unwrap_or_else(|e| panic!("ca-mock init ({layout:?}): {e}"));
        eprintln!("ca-mock init ({layout:?}) took {:.1} s", summary.seconds);
        super::persons::check_against(&dir.join("persons.json"));
        (tmp, dir)
    });
    dir
}

/// The CA world made by `siths-upgrade ca-mock init --dir` from the command line, as a user
/// following the README makes it.
pub fn world_from_cli() -> &'static Path {
    world_from_cli_in(Layout::Pkcs15)
}

/// Like [`world_from_cli`] with `ca-mock init --layout`.
pub fn world_from_cli_in(layout: Layout) -> &'static Path {
    static PKCS15: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    static IDPRIME: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (world, name) = match layout {
        Layout::Pkcs15 => (&PKCS15, "pkcs15"),
        Layout::Idprime => (&IDPRIME, "idprime"),
    };
    let (_, dir) = world.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        let init = super::cli::run(
            &[
                "ca-mock",
                "init",
                "--dir",
                dir.to_str().unwrap(),
                "--layout",
                name,
            ],
            "",
            &[],
        );
        assert!(init.status.success(), "{}", super::cli::text(&init));
        super::persons::check_against(&dir.join("persons.json"));
        (tmp, dir)
    });
    dir
}

/// The demo holder's pre-upgrade card (legacy pair in slot 1 under PIN1, test codes
/// [`Codes::test_defaults`]), made once without a CA world; `<card>.ca.pem` beside it holds its
/// legacy CA and root. Tests copy it with [`demo_card`].
pub fn demo_card_template() -> &'static Path {
    static TEMPLATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        make_pre_upgrade_card(&path, DEMO_SERIAL, &Codes::test_defaults(), &demo_holder()).unwrap();
        (dir, path)
    });
    path
}

/// A fresh copy of [`demo_card_template`] in `dir`, opened.
pub fn demo_card(dir: &Path) -> (PathBuf, virtual_card::SharedVirtualCard) {
    let path = dir.join("card.json");
    std::fs::copy(demo_card_template(), &path).unwrap();
    let card = virtual_card::share_virtual_card(VirtualCard::open(&path).unwrap());
    (path, card)
}

/// The host's apdu card over a new in-process connection to `card`, as after putting it in.
pub fn connect(card: &virtual_card::SharedVirtualCard) -> SithsCard {
    SithsCard::open(Box::new(MemoryTransport::connect(card.clone()).unwrap())).unwrap()
}
