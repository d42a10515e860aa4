//! (helper W fills this in; see /work/wt/ISSUE4.md)
