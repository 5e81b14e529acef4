//! The binary's edge: arguments in, exit code out. Flags are parsed in two stages (clap
//! reads raw values, then each command validates them into the library's types); every
//! error is printed once, here, and mapped to an exit code.

pub mod audit;
pub mod output;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Exit status: nothing flagged.
pub const EXIT_CLEAN: i32 = 0;
/// Exit status: at least one flow flagged.
pub const EXIT_FLAGGED: i32 = 1;
/// Exit status: the audit could not be done.
pub const EXIT_ERROR: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "telltale",
    version,
    about = "Audits what a self-hosted media server sends out of the house, from its captured traffic.",
    long_about = "Audits what a self-hosted media server sends out of the house. telltale reads captured traffic, \
names every remote party from what is on the wire (DNS answers, TLS SNI, HTTP Host), judges each flow against a \
rules file of the vendor's declared exceptions, and flags whatever leaves while the owner has opted out. \
It never sends a packet or looks anything up itself."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Audit capture files and write a report.
    #[command(
        after_help = "Exit status: 0 nothing flagged, 1 at least one flow flagged, 2 the audit could not be done."
    )]
    Audit(AuditArgs),
    /// Audit the built-in demo capture (a Plex server whose owner opted out) and print the report.
    Demo(DemoArgs),
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// pcap or pcapng files (detected by content, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct JudgeArgs {
    /// Rules file: a built-in name (plex) or a path to a TOML rules file.
    #[arg(long, value_name = "plex|PATH", default_value = "plex")]
    pub rules: String,
    /// The owner's data-sharing choice: `on` (opted out: the strictest reading) or `off`.
    #[arg(long = "opt-out", value_name = "on|off", default_value = "on")]
    pub opt_out: String,
}

#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Report formats, comma-separated: md, json.
    #[arg(long, value_name = "md|json[,..]", default_value = "md")]
    pub format: String,
    /// A file for one format, a directory for several; default standard output.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// An error worth one line (or a few) to the user, and the exit code it means.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_ERROR,
        }
    }
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("telltale: {}", f.message);
            f.code
        }
    }
}

pub fn run(cli: Cli) -> Result<i32, Failure> {
    match cli.command {
        Command::Audit(a) => audit::run(&a),
        Command::Demo(d) => audit::run_demo(&d),
    }
}
