//! telltale's test kit: the development tooling that the program itself does not need, in a
//! crate of its own that only the integration tests, the benches, the fuzz targets and the tools
//! depend on.
//!
//! - [`demo`]: the traffic synthesizer that writes the demo capture and the bench captures, and
//!   the demo's scenario table (every flow, and what the audit must say of it);
//! - [`fuzzing`]: the fuzz targets' entry points, and the seed extraction.
#![forbid(unsafe_code)]

pub mod demo;
pub mod fuzzing;
pub mod regress;
