//! The audit's configuration as the library takes it: the choices a user makes
//! ([`choices`]: the opt-out, the scope, the report formats, the replay speed), each
//! already checked into its type. The command line parses its flags into these.

pub mod choices;
