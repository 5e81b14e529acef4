// As in the library (src/lib.rs): a time subtraction that can go negative panics.
#![deny(clippy::unchecked_time_subtraction)]

fn main() {
    std::process::exit(telltale::cli::main());
}
