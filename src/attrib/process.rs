//! What a process is, from /proc/PID: its name (comm, or the executable's name when comm is a
//! truncated prefix of it), executable, command line, real uid, and start time.
//!
//! The start time (field 22 of /proc/PID/stat, in clock ticks since boot) tells a process from a later
//! one that was given the same pid. Every file is read with a size bound; a process that ended, or a
//! file that cannot be read, gives `None` for what it would have told.

use std::path::Path;

use super::{ProcessInfo, read_limited};

/// The kernel keeps at most this many bytes of a process's name in comm.
const COMM_MAX: usize = 15;
/// At most this much of a command line is read.
const CMDLINE_MAX: u64 = 64 * 1024;
/// At most this much of the small files (comm, stat, status).
const SMALL_MAX: u64 = 16 * 1024;

/// The start time of `pid`, or `None` when it is gone.
pub fn start_time(proc_root: &Path, pid: u32) -> Option<u64> {
    let stat = read_limited(&proc_root.join(pid.to_string()).join("stat"), SMALL_MAX).ok()?;
    parse_start_time(&String::from_utf8_lossy(&stat))
}

/// Field 22 of a /proc/PID/stat text. The name (field 2) is in parentheses and may itself hold
/// spaces and parentheses, so the fields are counted from the last `)`.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name come field 3 (state) onwards: field 22 is the 20th.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The real uid from a /proc/PID/status text (`Uid:` real, effective, saved, filesystem).
pub fn parse_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A /proc/PID/cmdline: NUL-separated arguments, the last one NUL-terminated.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The program's name: the file name of the executable (or of the command line's first word) when
/// comm is a 15-byte prefix of it, cut by the kernel; else comm.
pub fn program_name(comm: &[u8], exe: Option<&str>, cmdline: &[String]) -> String {
    let candidates = exe
        .map(|e| e.strip_suffix(" (deleted)").unwrap_or(e))
        .into_iter()
        .chain(cmdline.first().map(String::as_str));
    if comm.len() == COMM_MAX || comm.is_empty() {
        for path in candidates {
            let base = path.rsplit('/').next().unwrap_or(path);
            if base.len() > comm.len() && base.as_bytes().starts_with(comm) {
                return base.to_string();
            }
        }
    }
    String::from_utf8_lossy(comm).into_owned()
}

/// Reads what /proc says of `pid`; `None` when it is gone (its comm cannot be read). The container
/// is left for the caller to fill in.
pub fn read(proc_root: &Path, pid: u32) -> Option<ProcessInfo> {
    let dir = proc_root.join(pid.to_string());
    let mut comm = read_limited(&dir.join("comm"), SMALL_MAX).ok()?;
    if comm.last() == Some(&b'\n') {
        comm.pop();
    }
    let exe = std::fs::read_link(dir.join("exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let cmdline = read_limited(&dir.join("cmdline"), CMDLINE_MAX)
        .map(|b| parse_cmdline(&b))
        .unwrap_or_default();
    let uid = read_limited(&dir.join("status"), SMALL_MAX)
        .ok()
        .and_then(|b| parse_uid(&String::from_utf8_lossy(&b)));
    let mut name = program_name(&comm, exe.as_deref(), &cmdline);
    if name.is_empty() {
        name = format!("pid {pid}");
    }
    Some(ProcessInfo {
        pid,
        name,
        exe,
        cmdline,
        uid,
        container: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_start_time_past_awkward_names() {
        let stat = "4007 (python3) R 4004 4004 1721 0 -1 4194304 3004 6470 7 0 4 6 4 5 20 0 1 0 403444 18640896 3595";
        assert_eq!(parse_start_time(stat), Some(403444));
        let odd = "77 (a) b (c d) S 1 77 77 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 99 1000 10";
        assert_eq!(parse_start_time(odd), Some(99));
        assert_eq!(parse_start_time("77 (short) S 1 2 3"), None);
        assert_eq!(parse_start_time(""), None);
        assert_eq!(parse_start_time("no parenthesis at all"), None);
    }

    #[test]
    fn reads_the_real_uid() {
        let status = "Name:\tPlex Media Serv\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t997\t998\t997\t997\nGid:\t997\t997\t997\t997\n";
        assert_eq!(parse_uid(status), Some(997));
        assert_eq!(parse_uid("Name:\tx\n"), None);
        assert_eq!(parse_uid("Uid:\n"), None);
    }

    #[test]
    fn splits_the_command_line() {
        let raw = b"/usr/lib/plexmediaserver/Plex Media Server\0--flag\0\xff\0";
        assert_eq!(
            parse_cmdline(raw),
            vec![
                "/usr/lib/plexmediaserver/Plex Media Server",
                "--flag",
                "\u{fffd}"
            ]
        );
        assert_eq!(parse_cmdline(b""), Vec::<String>::new());
        assert_eq!(
            parse_cmdline(b"nginx: worker process\0"),
            vec!["nginx: worker process"]
        );
        assert_eq!(parse_cmdline(b"a\0\0b\0"), vec!["a", "", "b"]);
    }

    #[test]
    fn names_the_program_past_the_comm_cut() {
        let plex = "/usr/lib/plexmediaserver/Plex Media Server";
        assert_eq!(
            program_name(b"Plex Media Serv", Some(plex), &[]),
            "Plex Media Server"
        );
        // The executable cannot be read (another user's process): the command line still names it.
        assert_eq!(
            program_name(b"Plex Media Serv", None, &[plex.to_string()]),
            "Plex Media Server"
        );
        assert_eq!(
            program_name(b"Plex Media Serv", Some(&format!("{plex} (deleted)")), &[]),
            "Plex Media Server"
        );
        // A short comm is the name, whatever the executable is called.
        assert_eq!(
            program_name(b"python3", Some("/usr/bin/python3.11"), &[]),
            "python3"
        );
        // A 15-byte comm that is not a prefix of the executable's name (set by the program) stays.
        assert_eq!(
            program_name(b"Plex Tuner Serv", Some(plex), &[]),
            "Plex Tuner Serv"
        );
        assert_eq!(program_name(b"curl", None, &[]), "curl");
        assert_eq!(program_name(b"", None, &["/bin/sh".to_string()]), "sh");
        // comm cut inside a multi-byte character still matches the executable's bytes.
        let long = "/opt/\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}-server";
        let cut = &"\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}".as_bytes()[..15];
        assert_eq!(
            program_name(cut, Some(long), &[]),
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}-server"
        );
    }
}
