fn main() {
    std::process::exit(telltale::cli::main());
}
