//! Mängelmelder: geo-referenced defect reports from citizens, served as Open311 GeoReport v2
//! (JSON and XML), with web forms, photos (EXIF stripped) and the staff triage workflow.
//!
//! Not filled yet: the foundation only reserves this crate.
