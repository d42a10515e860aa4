//! When to remind a holder that a certificate runs out: the GUI's banner and `check-expiry` use
//! the same steps, so a scheduled reminder and the window never disagree.

/// How many days before its end a certificate may be renewed, and the first reminder: the
/// client's "renewal due" and the CA's renewal window are this one number, so the CA never
/// refuses a renewal the client offered, nor renews what the client would call not due.
pub const RENEWAL_WINDOW_DAYS: i64 = 30;

/// Days before expiry at which a reminder is due, widest first.
pub const THRESHOLDS: [i64; 7] = [RENEWAL_WINDOW_DAYS, 15, 7, 5, 3, 1, 0];

/// Whether a certificate with `days_left` (negative once expired) is inside its renewal window.
pub fn renewal_due(days_left: i64) -> bool {
    days_left <= RENEWAL_WINDOW_DAYS
}

/// The first second (unix) at which a certificate ending at `not_after` is inside its renewal
/// window: [`renewal_due`] of the whole days left, rounded down as `CertInfo::days_left` counts
/// them, first holds one second after `not_after` − 31 days (not at − 30 days). The CA mock
/// checks a renewal against this moment and names it in its refusal, so the two never differ.
pub fn renewal_window_opens(not_after: i64) -> i64 {
    not_after
        .saturating_sub((RENEWAL_WINDOW_DAYS + 1) * 86_400)
        .saturating_add(1)
}

/// The narrowest reminder step a certificate with `days_left` has reached (`Some(0)` once it
/// expires today or has expired), or `None` while it has more than 30 days.
pub fn warning_threshold(days_left: i64) -> Option<i64> {
    if days_left < 0 {
        return Some(0);
    }
    THRESHOLDS.iter().rev().copied().find(|t| days_left <= *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_is_reached_on_its_day() {
        assert_eq!(warning_threshold(31), None);
        assert_eq!(warning_threshold(30), Some(30));
        assert_eq!(warning_threshold(16), Some(30));
        assert_eq!(warning_threshold(15), Some(15));
        assert_eq!(warning_threshold(8), Some(15));
        assert_eq!(warning_threshold(7), Some(7));
        assert_eq!(warning_threshold(6), Some(7));
        assert_eq!(warning_threshold(5), Some(5));
        assert_eq!(warning_threshold(4), Some(5));
        assert_eq!(warning_threshold(3), Some(3));
        assert_eq!(warning_threshold(2), Some(3));
        assert_eq!(warning_threshold(1), Some(1));
        assert_eq!(warning_threshold(0), Some(0));
        assert_eq!(warning_threshold(-4), Some(0));
    }

    #[test]
    fn the_window_opens_at_the_first_second_the_client_calls_due() {
        let days_left = |not_after: i64, now: i64| (not_after - now).div_euclid(86_400);
        for not_after in [1_800_000_000_i64, 1_800_000_000 + 43_199, 86_400 * 40 + 7] {
            let opens = renewal_window_opens(not_after);
            assert!(!renewal_due(days_left(not_after, opens - 1)));
            assert!(renewal_due(days_left(not_after, opens)));
            for now in (opens - 3 * 86_400..opens + 3 * 86_400).step_by(3_601) {
                assert_eq!(
                    now >= opens,
                    renewal_due(days_left(not_after, now)),
                    "{now}"
                );
            }
        }
        assert_eq!(renewal_window_opens(31 * 86_400), 1);
    }
}
