//! Fuzz bodies for hearsay-core, shared by the libFuzzer targets in `fuzz_targets/` and by the
//! proptests in `crates/hearsay-core/tests/fuzz_bodies.rs` (which include this file with
//! `#[path]`, so the bodies run in CI on stable too).
//!
//! Each body takes raw fuzz bytes and panics only when an invariant of the core breaks:
//! * [`bodies::decode`]: `Codec::decode` never panics; whatever decodes re-encodes to bytes
//!   that decode to the same message; every structured message round-trips.
//! * [`bodies::open`]: `crypto::open` never panics; a sealed packet with any byte changed,
//!   cut or extended fails authentication (and a node fed it drops it), untouched it opens.
//! * [`bodies::node`]: a node fed any sequence of datagrams, stream frames, local writes and
//!   clock advances never panics, never lets the network change its own map, keeps at most
//!   `max_members` members, and only emits packets within the size limits that decode.
//!
//! Bytes are read with [`source::Source`], which never fails: an exhausted input reads zeros,
//! so every byte string is a valid input and libFuzzer's mutations stay meaningful.

#![forbid(unsafe_code)]

#[path = "bodies.rs"]
pub mod bodies;
#[path = "seeds.rs"]
pub mod seeds;
#[path = "source.rs"]
pub mod source;
