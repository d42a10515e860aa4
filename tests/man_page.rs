//! The man pages the packages install (packaging/linux/man: siths-upgrade.1 and one page per
//! subcommand, as its SUBCOMMANDS section names them) are rendered from the command line's own
//! definition, so they cannot drift from what the program accepts. Run with UPDATE_MAN=1 to
//! rewrite them after changing the command line.

use clap::CommandFactory;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/linux/man");

/// What `--help` cannot say: exit codes, files, environment.
const EXTRA: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
done
.TP
\fB1\fR
the user can fix it: a wrong or blocked PIN, a code that breaks the PIN rules (no try spent); for \fBaudit verify\fR, a broken log
.TP
\fB2\fR
the command line is wrong
.TP
\fB3\fR
the card cannot be used: no card, not a SITHS card, in use by another program, removed, PUK blocked
.TP
\fB4\fR
the system: pcscd not running, no reader, a file that cannot be read or written
.TP
\fB10\fR, \fB11\fR, \fB12\fR
\fBcheck-expiry\fR: a certificate expires within 30 days, within 7 days, or has expired
.SH FILES
.TP
\fI$XDG_CONFIG_HOME/siths-upgrade/settings.json\fR
the window's settings: language, CA address and root, reader; never a code
.TP
\fI$XDG_DATA_HOME/siths-upgrade/audit.log\fR
the service-centre desk's audit log, one hash-chained JSON line per action
.TP
\fI$XDG_CACHE_HOME/siths-upgrade/\fR
the demo's test CA, made on first use
.SH ENVIRONMENT
.TP
\fBRUST_LOG\fR
log filter, e.g. \fBsiths_upgrade=info\fR; codes are never logged
.TP
\fBPCSCLITE_CSOCK_NAME\fR
the pcscd socket to use
.SH "SEE ALSO"
\fBpcscd\fR(8), \fBpkcs15-tool\fR(1)
"#;

/// The main page (with the sections `--help` cannot give) and one page per subcommand, nested
/// ones included, each named as clap_mangen's SUBCOMMANDS section refers to it.
fn render() -> Vec<(String, String)> {
    // The package's version, not the commit: the pages must not change with every commit.
    let command = siths_upgrade::cli::Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut pages = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    man.render_options_section(&mut out).unwrap();
    man.render_subcommands_section(&mut out).unwrap();
    out.extend_from_slice(EXTRA.as_bytes());
    man.render_version_section(&mut out).unwrap();
    pages.push((
        "siths-upgrade.1".to_string(),
        String::from_utf8(out).unwrap(),
    ));
    subcommand_pages(&command, "siths-upgrade", &mut pages);
    pages
}

fn subcommand_pages(parent: &clap::Command, prefix: &str, pages: &mut Vec<(String, String)>) {
    for sub in parent.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{prefix}-{}", sub.get_name());
        // clap names are &'static str (without its "string" feature); a test may leak a few.
        let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
        let command = sub
            .clone()
            .name(static_name)
            .version(env!("CARGO_PKG_VERSION"));
        let mut out = Vec::new();
        clap_mangen::Man::new(command.clone())
            .render(&mut out)
            .unwrap();
        pages.push((format!("{name}.1"), String::from_utf8(out).unwrap()));
        subcommand_pages(&command, &name, pages);
    }
}

#[test]
fn the_installed_man_pages_match_the_command_line() {
    let pages = render();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "siths-upgrade.1",
        "siths-upgrade-check-expiry.1",
        "siths-upgrade-desk.1",
        "siths-upgrade-audit-verify.1",
    ] {
        assert!(names.contains(&expected), "no page {expected} in {names:?}");
    }
    if std::env::var_os("UPDATE_MAN").is_some() {
        let _ = std::fs::remove_dir_all(DIR);
        std::fs::create_dir_all(DIR).unwrap();
        for (name, page) in &pages {
            std::fs::write(format!("{DIR}/{name}"), page).unwrap();
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(DIR)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    on_disk.sort();
    let mut wanted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    wanted.sort();
    let stale = "packaging/linux/man is out of date: run `UPDATE_MAN=1 cargo test --test man_page`";
    assert_eq!(on_disk, wanted, "{stale}");
    for (name, page) in &pages {
        let checked_in = std::fs::read_to_string(format!("{DIR}/{name}")).unwrap_or_default();
        assert!(&checked_in == page, "{name}: {stale}");
    }
}
