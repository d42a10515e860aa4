//! Loading a middleware's PKCS#11 module: once per process, never finalised.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

use crate::card::MiddlewareError;

use super::raw;

/// A loaded and initialised module. Modules are loaded once per process and never finalised:
/// middleware keeps per-process state, and a second `C_Initialize` is refused.
pub(super) struct Module {
    pub(super) path: PathBuf,
    pub(super) context: Pkcs11,
    pub(super) raw: raw::RawSign,
}

pub(super) fn load(path: &Path) -> Result<Arc<Module>, MiddlewareError> {
    static LOADED: OnceLock<Mutex<Vec<Arc<Module>>>> = OnceLock::new();
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(m) = loaded.iter().find(|m| m.path == path) {
        return Ok(m.clone());
    }
    let unloadable = |detail: String| MiddlewareError::ModuleUnloadable {
        module: path.display().to_string(),
        detail,
    };
    let context = Pkcs11::new(path).map_err(|e| unloadable(e.to_string()))?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(unloadable(e.to_string())),
    }
    let raw = raw::RawSign::load(path).map_err(unloadable)?;
    let module = Arc::new(Module {
        path: path.to_path_buf(),
        context,
        raw,
    });
    loaded.push(module.clone());
    Ok(module)
}
