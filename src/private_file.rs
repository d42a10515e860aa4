//! Files that hold secrets (PINs, PUKs, private keys, who looked up whose PUK) are created
//! readable by their owner only, inside directories only their owner can enter. The mode is set
//! when the file or directory is created, so there is no moment where another local user could
//! open it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of a secret file.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a directory of secret files.
pub const DIR_MODE: u32 = 0o700;

/// Create `path` and any missing parents with mode 0700. An existing directory is left as it is.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)
}

/// Permissions for `tempfile::Builder::permissions`: tempfile makes directories with the
/// process's umask (0755 usually) unless told otherwise.
#[cfg(unix)]
pub fn dir_permissions() -> fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(DIR_MODE)
}

/// A `tempfile::Builder` for a directory of secrets: owner-only (0700) on Unix. On Windows a
/// new directory inherits the ACL of its parent, and the user's temp and profile folders are
/// the user's own; tempfile cannot set permissions there, so none are set.
pub fn private_dir_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    builder.permissions(dir_permissions());
    builder
}

fn private_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Replace `path` with `bytes`: a new 0600 file in the same directory, fsynced, renamed over the
/// old one, the directory fsynced, so a crash at any instant leaves either the old or the new
/// file. A file that was readable by others before is replaced, not reused.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = private_options().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        #[cfg(unix)]
        File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Open `path` for appending, creating it with mode 0600.
pub fn open_append(path: &Path) -> io::Result<File> {
    private_options().create(true).append(true).open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("secret");
        fs::write(&file, "old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"new").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(fs::read_to_string(&file).unwrap(), "new");
        let log = dir.join("log");
        writeln!(open_append(&log).unwrap(), "x").unwrap();
        assert_eq!(mode(&log), 0o600);
        // Nothing left behind but the two files.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    }
}
