#![forbid(unsafe_code)]
// As in the library (src/lib.rs): a time subtraction that can go negative panics.
#![deny(clippy::unchecked_time_subtraction)]

mod cli;

fn main() {
    std::process::exit(cli::main());
}
