//! The registry's rules, free of I/O: the stage machine, the review aggregate and its
//! commands, statutory deadlines, and the parsers that admit input.

pub mod deadlines;
pub mod meeting;
pub mod overview;
pub mod review;
pub mod stage;
pub mod values;
