//! The one PKCS#11 call the `cryptoki` crate does not offer: a single-part `C_Sign` after
//! `C_SignInit` and a context-specific `C_Login`.
//!
//! A signing key with `CKA_ALWAYS_AUTHENTICATE` (SafeNet-style middleware, and OpenSC for
//! non-repudiation keys) takes PIN2 through `C_Login(CKU_CONTEXT_SPECIFIC)` *between*
//! `C_SignInit` and `C_Sign`; cryptoki's `Session::sign` does both calls at once, and
//! `CKM_RSA_PKCS` has no multi-part form. So the module's function list is fetched once more
//! (the same library, already loaded and initialised: the list is the module's own static table)
//! and `C_Sign` is called directly on the session cryptoki opened.

use std::ffi::c_ulong;
use std::path::Path;

use cryptoki::context::Function;
use cryptoki::error::{Error, Rv};
use cryptoki::session::Session;
use cryptoki_sys::{CK_C_Sign, CK_FUNCTION_LIST};

/// `C_Sign` of one loaded module.
pub(crate) struct RawSign {
    /// Keeps the library mapped for as long as the function pointer is used.
    _library: cryptoki_sys::Pkcs11,
    c_sign: CK_C_Sign,
}

impl std::fmt::Debug for RawSign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawSign")
    }
}

impl RawSign {
    pub(crate) fn load(path: &Path) -> Result<RawSign, String> {
        // SAFETY: the same module cryptoki has already loaded and initialised; loading it again
        // maps the same library, and C_GetFunctionList only fills in a pointer to its static table.
        unsafe {
            let library = cryptoki_sys::Pkcs11::new(path).map_err(|e| e.to_string())?;
            if library.C_GetFunctionList.is_err() {
                return Err("the module has no C_GetFunctionList".into());
            }
            let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
            let rv = library.C_GetFunctionList(&mut list);
            if rv != cryptoki_sys::CKR_OK || list.is_null() {
                return Err(format!("C_GetFunctionList failed (0x{rv:x})"));
            }
            let c_sign = (*list).C_Sign;
            if c_sign.is_none() {
                return Err("the module has no C_Sign".into());
            }
            Ok(RawSign {
                _library: library,
                c_sign,
            })
        }
    }

    /// Finish the signing operation already initialised on `session` (`C_SignInit`, then the
    /// context-specific login) over `data`.
    pub(crate) fn sign(&self, session: &Session, data: &[u8]) -> Result<Vec<u8>, Error> {
        let c_sign = self.c_sign.ok_or(Error::NullFunctionPointer)?;
        let data_len = c_ulong::try_from(data.len())?;
        // RSA-2048 signatures are 256 bytes; room for RSA-4096 all the same.
        let mut signature = vec![0u8; 512];
        let mut len = c_ulong::try_from(signature.len())?;
        // SAFETY: the session handle is live (cryptoki holds it open), the data and output
        // buffers are valid for the lengths given, and the module writes at most `len` bytes.
        let rv = unsafe {
            c_sign(
                session.handle(),
                data.as_ptr() as *mut u8,
                data_len,
                signature.as_mut_ptr(),
                &mut len,
            )
        };
        Rv::from(rv).into_result(Function::Sign)?;
        signature.truncate(usize::try_from(len)?);
        Ok(signature)
    }
}

// SAFETY: a PKCS#11 function pointer may be called from any thread once the module is
// initialised with OS locking (as `super::load` does); the library handle is only kept alive.
unsafe impl Send for RawSign {}
unsafe impl Sync for RawSign {}
