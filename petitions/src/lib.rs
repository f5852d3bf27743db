//! Petitions map: the petition lifecycle, signatures confirmed by e-mail, the map of
//! petitions and the moderation back office.
//!
//! Not filled yet: the foundation only reserves this crate.
