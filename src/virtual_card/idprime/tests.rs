//! The IDPrime dialect command by command, through the whole card (engine and card OS).
