//! The command line's words for the errors the lower layers give as types. Those layers say
//! what is wrong and the fix in the card's terms; where the fix is a command or a flag of this
//! program, the command line names it here (the window says it in its own catalogs).

use crate::card::{CardError, MiddlewareError, PinKind};
use crate::transport::TransportError;
use crate::workflow::error::WorkflowError;

/// A card error as the command line prints it.
pub(crate) fn card_error(e: &CardError) -> String {
    match e {
        CardError::Transport(t) => transport_error(t),
        CardError::Middleware(m) => middleware_error(m),
        CardError::Blocked(kind @ (PinKind::Pin1 | PinKind::Pin2)) => format!(
            "the {kind} is blocked: unblock it with your PUK (`siths-upgrade unblock-pin --which {}`)",
            if *kind == PinKind::Pin1 { "id" } else { "sign" }
        ),
        e => e.to_string(),
    }
}

/// A transport error as the command line prints it.
pub(crate) fn transport_error(e: &TransportError) -> String {
    match e {
        TransportError::ReaderNotFound(reader) => format!(
            "the reader \"{reader}\" was not found: check the name with `siths-upgrade readers`"
        ),
        e => e.to_string(),
    }
}

/// A middleware error as the command line prints it: modules are named with `--pkcs11`, cards
/// with `--reader`.
pub(crate) fn middleware_error(e: &MiddlewareError) -> String {
    match e {
        MiddlewareError::ModuleNotFound(module) => format!(
            "no PKCS#11 module {module} was found: install your card's middleware (SafeNet \
             Authentication Client, Net iD or OpenSC), or give the module's full path with \
             --pkcs11"
        ),
        MiddlewareError::ModuleUnloadable { module, detail } => format!(
            "the PKCS#11 module {module} cannot be loaded ({detail}): reinstall the card's \
             middleware, or give the path of another module with --pkcs11"
        ),
        MiddlewareError::SeveralCards { cards } => format!(
            "the PKCS#11 module shows several SITHS cards ({}): name the one to use with \
             --reader (its label or serial)",
            cards
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        e => e.to_string(),
    }
}

/// A workflow error as the command line prints it: its card errors in the command line's words.
pub(crate) fn workflow_error(e: &WorkflowError) -> String {
    match e {
        WorkflowError::Card(c) => card_error(c),
        WorkflowError::NotUpgraded => concat!(
            "this card has not been upgraded yet, so there is nothing to renew: ",
            "upgrade the card first (siths-upgrade upgrade)"
        )
        .to_string(),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardChoice;

    #[test]
    fn the_command_line_names_its_commands_and_flags_where_the_card_layers_do_not() {
        let blocked = CardError::Blocked(PinKind::Pin2);
        assert!(!blocked.to_string().contains("siths-upgrade"));
        assert_eq!(
            card_error(&blocked),
            "the signing PIN (PIN2) is blocked: unblock it with your PUK (`siths-upgrade unblock-pin --which sign`)"
        );
        assert_eq!(
            card_error(&CardError::Blocked(PinKind::Puk)),
            CardError::Blocked(PinKind::Puk).to_string()
        );

        let missing = TransportError::ReaderNotFound("Desk reader".into());
        assert!(!missing.to_string().contains("siths-upgrade"));
        assert_eq!(
            card_error(&CardError::Transport(missing)),
            "the reader \"Desk reader\" was not found: check the name with `siths-upgrade readers`"
        );

        let middleware = [
            MiddlewareError::ModuleNotFound("safenet".into()),
            MiddlewareError::ModuleUnloadable {
                module: "/x.so".into(),
                detail: "no such file".into(),
            },
            MiddlewareError::SeveralCards {
                cards: vec![CardChoice {
                    label: "SITHS e-id".into(),
                    serial: "1234".into(),
                    reader: "r".into(),
                    siths: true,
                }],
            },
        ];
        assert!(
            !WorkflowError::NotUpgraded
                .to_string()
                .contains("siths-upgrade")
        );
        assert!(workflow_error(&WorkflowError::NotUpgraded).ends_with("(siths-upgrade upgrade)"));
        for e in middleware {
            assert!(!e.to_string().contains("--"), "{e}");
            let words = workflow_error(&WorkflowError::Card(CardError::Middleware(e.clone())));
            assert!(
                words.contains("--pkcs11") || words.contains("--reader"),
                "{words}"
            );
        }
    }
}
