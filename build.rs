//! Stamps the git commit into `siths-upgrade --version`, so a support call can tell exactly which
//! build a holder or a service centre runs. Builds without git (a source tarball) say "unknown".
//!
//! For Windows it also embeds the program's resource (assets/windows/siths-upgrade.rc: icon,
//! version information, application manifest), compiled with mingw's windres.

use std::process::Command;

fn main() {
    let commit = std::env::var("SITHS_UPGRADE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            let hash = String::from_utf8(out.stdout).ok()?.trim().to_string();
            (out.status.success() && !hash.is_empty()).then_some(hash)
        })
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty());
    let commit = if dirty && commit != "unknown" {
        format!("{commit}-modified")
    } else {
        commit
    };
    println!("cargo:rustc-env=SITHS_UPGRADE_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=SITHS_UPGRADE_COMMIT");
    // A new commit moves HEAD or the branch it points at.
    for path in [".git/HEAD", ".git/index", ".git/refs/heads"] {
        println!("cargo:rerun-if-changed={path}");
    }

    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        windows_resource();
    }
}

/// Compiles and links the Windows resource. A Windows build without it (no windres) fails: an
/// exe without its manifest runs blurred on scaled monitors and without the UTF-8 code page.
fn windows_resource() {
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let version = |part: &str| std::env::var(format!("CARGO_PKG_VERSION_{part}")).unwrap();
    // embed-resource puts OUT_DIR on the resource compiler's include path.
    let header = format!(
        "#define SITHS_VERSION_MAJOR {}\n#define SITHS_VERSION_MINOR {}\n\
         #define SITHS_VERSION_PATCH {}\n#define SITHS_VERSION_STRING \"{}\"\n",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        std::env::var("CARGO_PKG_VERSION").unwrap()
    );
    std::fs::write(out.join("version.h"), header).expect("cannot write version.h");
    let dir = root.join("assets").join("windows");
    let icons = root.join("assets").join("icons");
    for file in [
        dir.join("siths-upgrade.rc"),
        dir.join("siths-upgrade.exe.manifest"),
        icons.join("siths-upgrade.ico"),
    ] {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    embed_resource::compile(
        dir.join("siths-upgrade.rc"),
        embed_resource::ParamsIncludeDirs([&dir, &icons]),
    )
    .manifest_required()
    .unwrap_or_else(|e| panic!("{e} (install binutils-mingw-w64-x86-64 for windres)"));
}
