//! The in-process rig most tests need: a private copy of the CA world
//! ([`super::world::world`]) served by the CA mock over mutual TLS, and, when a test names a
//! holder, that person's virtual card from the copy, with the codes of its code letter.
//!
//! What differs between tests is a builder option ([`RigBuilder`]); what one test binary adds
//! it writes as its own `impl Rig` block beside its tests.

use std::path::Path;

use siths_upgrade::ca::mock::{self, MockDir, MockHandle};
use siths_upgrade::card::{CardError, SithsCard};
use siths_upgrade::virtual_card::memory::MemoryTransport;
use siths_upgrade::virtual_card::{self, Layout, VirtualCard};

use super::persons::Person;

/// A CA of its own (store, config, cards) served in-process, and maybe a holder's card.
pub struct Rig {
    /// Holds the copy; tests put their own files (CSRs, answers) here too.
    pub tmp: tempfile::TempDir,
    pub dir: MockDir,
    /// `None` only between [`Rig::stop`] and a restart.
    pub server: Option<MockHandle>,
    /// The copy's root certificate, as a client is told to trust it.
    pub root_pem: Vec<u8>,
    holder: Option<Holder>,
    /// The layout of the world's cards.
    pub layout: Layout,
}

/// The holder's card in the rig's copy, as the CA mock's `init` made it.
pub struct Holder {
    pub person: Person,
    pub vcard: virtual_card::SharedVirtualCard,
    pub pin1: String,
    pub pin2: String,
    pub puk: String,
}

/// A change to the copy of the world before it is served.
type Prepare<'a> = Box<dyn FnOnce(&MockDir) + 'a>;

/// What a test changes about its rig: the holder, the copy before it is served, the limits.
#[must_use]
#[derive(Default)]
pub struct RigBuilder<'a> {
    layout: Layout,
    holder: Option<Person>,
    prepare: Option<Prepare<'a>>,
    limits: Option<mock::Limits>,
}

impl<'a> RigBuilder<'a> {
    /// The world whose cards are in `layout` (the default: PKCS#15).
    pub fn layout(mut self, layout: Layout) -> RigBuilder<'a> {
        self.layout = layout;
        self
    }

    /// Open `person`'s card from the copy.
    pub fn holder(mut self, person: Person) -> RigBuilder<'a> {
        self.holder = Some(person);
        self
    }

    /// Change the copy (config, store, persons) before the CA mock first reads it.
    pub fn prepare(mut self, prepare: impl FnOnce(&MockDir) + 'a) -> RigBuilder<'a> {
        self.prepare = Some(Box::new(prepare));
        self
    }

    /// Serve with these limits instead of the defaults.
    pub fn limits(mut self, limits: mock::Limits) -> RigBuilder<'a> {
        self.limits = Some(limits);
        self
    }

    pub fn start(self) -> Rig {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ca");
        super::files::copy_dir(super::world::world_in(self.layout), &path);
        let dir = MockDir::new(&path);
        if let Some(prepare) = self.prepare {
            prepare(&dir);
        }
        let server = serve(&dir, self.limits.unwrap_or_default());
        let root_pem = std::fs::read(dir.root_pem()).unwrap();
        let holder = self.holder.map(|person| open_holder(&dir, person));
        Rig {
            tmp,
            dir,
            server: Some(server),
            root_pem,
            holder,
            layout: self.layout,
        }
    }
}

fn serve(dir: &MockDir, limits: mock::Limits) -> MockHandle {
    mock::start_with(dir.path(), "127.0.0.1:0", limits).unwrap_or_else(|e| panic!("start: {e}"))
}

fn open_holder(dir: &MockDir, person: Person) -> Holder {
    let vcard =
        virtual_card::share_virtual_card(VirtualCard::open(dir.card_state(person.hsa_id)).unwrap());
    // The person's code letter.
    let pins = std::fs::read_to_string(dir.card_pins(person.hsa_id)).unwrap();
    let code = |key: &str| {
        pins.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap()
            .trim()
            .to_string()
    };
    Holder {
        person,
        vcard,
        pin1: code("PIN1"),
        pin2: code("PIN2"),
        puk: code("PUK"),
    }
}

impl Rig {
    pub fn builder<'a>() -> RigBuilder<'a> {
        RigBuilder::default()
    }

    /// The CA alone, no card.
    pub fn new() -> Rig {
        Rig::builder().start()
    }

    /// The CA served on a copy that `prepare` changed first.
    pub fn with(prepare: impl FnOnce(&MockDir)) -> Rig {
        Rig::builder().prepare(prepare).start()
    }

    /// The CA served with other limits.
    pub fn with_limits(limits: mock::Limits) -> Rig {
        Rig::builder().limits(limits).start()
    }

    /// The CA and `person`'s card.
    pub fn holding(person: Person) -> Rig {
        Rig::builder().holder(person).start()
    }

    pub fn server(&self) -> &MockHandle {
        self.server.as_ref().unwrap()
    }

    pub fn url(&self) -> String {
        self.server().url()
    }

    /// The copy's directory (as a path, for the CLI and for files beside it).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn holder(&self) -> &Holder {
        self.holder
            .as_ref()
            .expect("this rig was built without a holder")
    }

    /// Stop the CA mock; it closes its port.
    pub fn stop(&mut self) {
        if let Some(old) = self.server.take() {
            old.stop();
        }
    }

    /// Stop the CA mock and serve the same copy again, as after a restart of the CA.
    pub fn restart(&mut self) {
        self.restart_with(mock::Limits::default());
    }

    pub fn restart_with(&mut self, limits: mock::Limits) {
        self.stop();
        self.server = Some(serve(&self.dir, limits));
    }

    /// The holder's pre-upgrade card and the CA's store as `ca-mock init` made them, the CA
    /// served again on them.
    pub fn fresh_card_and_store(&mut self) {
        self.stop();
        let world = super::world::world_in(self.layout);
        for suffix in ["", "-wal", "-shm"] {
            let name = format!("store.sqlite{suffix}");
            let _ = std::fs::remove_file(self.dir.path().join(&name));
            let pristine = world.join(&name);
            if pristine.exists() {
                std::fs::copy(pristine, self.dir.path().join(&name)).unwrap();
            }
        }
        self.server = Some(serve(&self.dir, mock::Limits::default()));
        let hsa_id = self.holder().person.hsa_id;
        let state = self.dir.card_state(hsa_id);
        std::fs::copy(world.join("cards").join(format!("{hsa_id}.json")), &state).unwrap();
        *virtual_card::lock_virtual_card(&self.holder().vcard) = VirtualCard::open(&state).unwrap();
    }

    /// A new connection to the holder's card, as after putting it back in.
    pub fn card(&self) -> siths_upgrade::card::SharedCard {
        self.try_card().unwrap()
    }

    pub fn try_card(&self) -> Result<siths_upgrade::card::SharedCard, CardError> {
        let transport = MemoryTransport::connect(self.holder().vcard.clone())?;
        Ok(siths_upgrade::card::share(SithsCard::open(Box::new(
            transport,
        ))?))
    }
}
