//! The window's words, from the Fluent catalogs in assets/i18n (Swedish first, English), so a
//! translator changes text without touching code and plurals come out right in both languages.

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource, FluentValue};

/// The languages the window speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    /// Swedish: the default, as for the holders and the service centre.
    #[default]
    Sv,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Sv, Lang::En];

    /// The catalog, built into the binary so an installed app cannot lose its text.
    pub fn catalog(self) -> &'static str {
        match self {
            Lang::Sv => include_str!("../../assets/i18n/sv.ftl"),
            Lang::En => include_str!("../../assets/i18n/en.ftl"),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Lang::Sv => "sv-SE",
            Lang::En => "en-GB",
        }
    }

    /// The language's own name, shown in the language picker whatever the current language is.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Sv => "Svenska",
            Lang::En => "English",
        }
    }
}

/// One argument of a message.
pub enum Arg<'a> {
    Str(&'a str),
    Num(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Str(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Str(s)
    }
}

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Num(n)
    }
}

impl From<u8> for Arg<'_> {
    fn from(n: u8) -> Self {
        Arg::Num(i64::from(n))
    }
}

impl From<u64> for Arg<'_> {
    fn from(n: u64) -> Self {
        Arg::Num(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Arg<'_> {
    fn from(n: usize) -> Self {
        Arg::Num(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// Looks up messages in one language.
pub struct Tr {
    lang: Lang,
    bundle: FluentBundle<FluentResource>,
}

impl Tr {
    pub fn new(lang: Lang) -> Tr {
        let resource = match FluentResource::try_new(lang.catalog().to_string()) {
            Ok(r) => r,
            Err((r, errors)) => {
                log::error!("the {lang:?} catalog has {} syntax error(s)", errors.len());
                r
            }
        };
        let langid = lang
            .tag()
            .parse()
            .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
        let mut bundle = FluentBundle::new(vec![langid]);
        // Unicode isolation marks would show as boxes in the window's fonts.
        bundle.set_use_isolating(false);
        if let Err(errors) = bundle.add_resource(resource) {
            log::error!("the {lang:?} catalog has {} duplicate(s)", errors.len());
        }
        Tr { lang, bundle }
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The message `id`; a missing message shows its id, so a gap is visible, never a panic.
    pub fn t(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with arguments (`{ $name }` in the catalog).
    pub fn a<'a>(&self, id: &str, args: &[(&str, Arg<'a>)]) -> String {
        let mut fargs = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Str(s) => fargs.set(name.to_string(), FluentValue::from(s.to_string())),
                Arg::Num(n) => fargs.set(name.to_string(), FluentValue::from(*n)),
            }
        }
        self.format(id, Some(&fargs))
    }

    /// Whether the catalog has `id` (for the catalog tests).
    pub fn has(&self, id: &str) -> bool {
        self.bundle.has_message(id)
    }

    fn format(&self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            log::warn!("no {:?} text for {id}", self.lang);
            return id.to_string();
        };
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            log::warn!("{:?} text {id}: {errors:?}", self.lang);
        }
        text.into_owned()
    }
}

/// Message ids defined in a catalog, in order (for the catalog tests and for translators).
pub fn message_ids(catalog: &str) -> Vec<String> {
    catalog
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_string()))
        .collect()
}

/// Words a nurse should never meet in the Swedish window: card commands, code names of the
/// profiles, and English that leaked from an error's detail. Such detail belongs under
/// "Visa teknisk information", which is filled in by code, not by the catalog.
#[cfg(test)]
pub(crate) const NOT_FOR_HOLDERS: &[&str] = &[
    "APDU",
    "READ BINARY",
    "SELECT",
    "in-process",
    "hsa-auth",
    "hsa-sign",
    "pnr-auth",
    "pnr-sign",
    "slot",
];

/// Whether `text` holds `word` as a whole word (or phrase), ignoring case.
#[cfg(test)]
pub(crate) fn has_word(text: &str, word: &str) -> bool {
    let text = text.to_lowercase();
    let word = word.to_lowercase();
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(&word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_parse_and_have_the_same_messages() {
        for lang in Lang::ALL {
            assert!(
                FluentResource::try_new(lang.catalog().to_string()).is_ok(),
                "{lang:?} catalog has syntax errors"
            );
        }
        let sv = message_ids(Lang::Sv.catalog());
        let en = message_ids(Lang::En.catalog());
        assert!(sv.len() > 50, "the Swedish catalog looks empty");
        let missing_en: Vec<_> = sv.iter().filter(|id| !en.contains(id)).collect();
        let missing_sv: Vec<_> = en.iter().filter(|id| !sv.contains(id)).collect();
        assert!(missing_en.is_empty(), "missing in en.ftl: {missing_en:?}");
        assert!(missing_sv.is_empty(), "missing in sv.ftl: {missing_sv:?}");
    }

    /// An id defined twice would silently show the first text wherever the second is meant.
    #[test]
    fn no_message_id_is_defined_twice() {
        for (name, text) in [
            ("sv.ftl", include_str!("../../assets/i18n/sv.ftl")),
            ("en.ftl", include_str!("../../assets/i18n/en.ftl")),
        ] {
            let mut seen = std::collections::HashSet::new();
            for line in text.lines() {
                if let Some((id, _)) = line.split_once(" =")
                    && !id.starts_with(['#', ' ', '.', '*', '['])
                    && !id.is_empty()
                {
                    assert!(seen.insert(id), "{name} defines {id} twice");
                }
            }
        }
    }

    /// Every message id the window's code asks for exists in both catalogs.
    #[test]
    fn every_id_used_in_the_code_is_in_the_catalogs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gui");
        let mut used = Vec::new();
        collect_ids(&dir, &mut used);
        assert!(
            used.len() > 50,
            "found too few message ids in src/gui: {}",
            used.len()
        );
        for lang in Lang::ALL {
            let tr = Tr::new(lang);
            let missing: Vec<_> = used.iter().filter(|id| !tr.has(id)).collect();
            assert!(missing.is_empty(), "{lang:?} catalog lacks {missing:?}");
        }
    }

    /// Hyphenated string literals in src/gui that are widget ids, not message ids.
    const NOT_MESSAGE_IDS: &[&str] = &[
        "code-field",
        "chooser-help",
        "siths-upgrade",
        "demo-ca",
        "siths-worker",
        "reader-events",
        "id-document",
        "worker-stop",
        "code-grid",
        "code-grid-seen",
        "code-grid-next",
        "upgrade-details",
    ];

    fn collect_ids(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect_ids(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Ids passed to .t()/.a() directly, and ids chosen in a match ("err-…").
                for marker in [".t(\"", ".a(\""] {
                    for piece in text.split(marker).skip(1) {
                        if let Some(end) = piece.find('"') {
                            out.push(piece[..end].to_string());
                        }
                    }
                }
                for piece in text.split('"').skip(1).step_by(2) {
                    let is_id = piece.contains('-')
                        && piece.split('-').all(|w| {
                            !w.is_empty()
                                && w.bytes()
                                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                        });
                    if is_id && !NOT_MESSAGE_IDS.contains(&piece) {
                        out.push(piece.to_string());
                    }
                }
            }
        }
    }

    /// The text of every message in a catalog, one entry per line of text: the ids, comments,
    /// variant keys (`*[other]`) and placeables (`{ $n }`, `{ $n ->`) left out.
    fn catalog_texts(catalog: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut id = String::new();
        for line in catalog.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let value = match line.split_once(" =") {
                Some((head, value)) if line.starts_with(|c: char| c.is_ascii_lowercase()) => {
                    id = head.trim().to_string();
                    value
                }
                _ => line.trim_start(),
            };
            let value = value.trim_start_matches('*');
            let value = match value.strip_prefix('[') {
                Some(rest) => rest.split_once(']').map_or("", |(_, text)| text),
                None => value,
            };
            out.push((id.clone(), without_placeables(value)));
        }
        out
    }

    /// A line with its `{ … }` placeables removed; an unclosed one (a select's `{ $n ->`) runs
    /// to the end of the line, and a lone `}` closes a select.
    fn without_placeables(line: &str) -> String {
        let mut text = String::new();
        let mut depth = 0usize;
        for c in line.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                c if depth == 0 => text.push(c),
                _ => {}
            }
        }
        text
    }

    #[test]
    fn the_swedish_window_has_no_english_or_technical_words() {
        let texts = catalog_texts(Lang::Sv.catalog());
        assert!(
            texts.len() > 50,
            "read too few Swedish texts: {}",
            texts.len()
        );
        let found: Vec<String> = texts
            .iter()
            .flat_map(|(id, text)| {
                NOT_FOR_HOLDERS
                    .iter()
                    .filter(|w| has_word(text, w))
                    .map(move |w| format!("{id}: {w:?} in {text:?}"))
            })
            .collect();
        assert!(found.is_empty(), "sv.ftl: {found:#?}");
    }

    /// The check reads texts, not ids (`profile-hsa-auth` is fine), skips placeables, and
    /// matches whole words only ("select" is not in "selected", "slot" is not in "slotted").
    #[test]
    fn the_word_check_reads_texts_and_whole_words() {
        let texts = catalog_texts(
            "profile-hsa-auth = HSA-id\nx = Kort { $slot } valt\ny = { $n ->\n    [one] READ BINARY\n   *[other] ett slot\n}\n",
        );
        let words: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        assert!(!words.iter().any(|t| has_word(t, "hsa-auth")));
        assert!(
            !words
                .iter()
                .any(|t| has_word(t, "slot") && t.contains("Kort"))
        );
        assert!(words.iter().any(|t| has_word(t, "READ BINARY")));
        assert!(words.iter().any(|t| has_word(t, "slot")));
        assert!(!has_word("selected", "select"));
        assert!(has_word("Kortet vägrade SELECT (status 6A82)", "select"));
        assert!(has_word("Virtual SITHS card (in-process)", "in-process"));
    }

    #[test]
    fn plurals_and_arguments_come_out_in_each_language() {
        let sv = Tr::new(Lang::Sv);
        let en = Tr::new(Lang::En);
        assert_eq!(sv.a("tries-left", &[("n", 2u8.into())]), "2 försök kvar");
        assert_eq!(en.a("tries-left", &[("n", 1u8.into())]), "1 try left");
        assert_eq!(en.a("tries-left", &[("n", 3u8.into())]), "3 tries left");
        assert_eq!(sv.t("no-such-message"), "no-such-message");
    }
}
