//! Socket inode → the process holding it, from the open-file links in /proc/PID/fd.
//!
//! Every open socket shows there as a symbolic link to `socket:[INODE]`. A full scan reads the links of
//! every process; the caller keeps the result and rescans only when an inode is missing from it. A
//! process that ends during the scan is skipped; one whose fd folder cannot be read (another user's,
//! without root or CAP_SYS_PTRACE) is skipped and counted.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::Path;

/// Where a socket was seen open: the process and the descriptor number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub fd: u32,
}

/// The result of one full scan.
#[derive(Debug, Default)]
pub struct Scan {
    /// Socket inode → owner. When several processes share a socket (inherited across fork), the
    /// lowest pid, usually the parent.
    pub owners: HashMap<u64, Owner>,
    /// Processes whose open files could not be read.
    pub unreadable: u64,
    /// Socket links left out because the map was full.
    pub over_cap: u64,
}

/// The inode of a `socket:[INODE]` link target.
pub fn socket_inode(target: &Path) -> Option<u64> {
    let text = target.to_str()?;
    text.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The process ids listed in `proc_root` (its all-digit entries).
pub fn pids(proc_root: &Path) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let name = name.to_str()?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            name.parse().ok()
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Reads the socket links of every process, keeping at most `cap` sockets, but always those in `wanted`.
pub fn scan(proc_root: &Path, cap: usize, wanted: &[u64]) -> Scan {
    let mut result = Scan::default();
    for pid in pids(proc_root) {
        let fd_dir = proc_root.join(pid.to_string()).join("fd");
        let entries = match std::fs::read_dir(&fd_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(_) => {
                result.unreadable += 1;
                continue;
            }
        };
        for entry in entries.flatten() {
            let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let Some(inode) = socket_inode(&target) else {
                continue;
            };
            if result.owners.contains_key(&inode) {
                // Pids come in increasing order: the first holder is the lowest.
                continue;
            }
            if result.owners.len() >= cap && !wanted.contains(&inode) {
                result.over_cap += 1;
                continue;
            }
            result.owners.insert(inode, Owner { pid, fd });
        }
    }
    result
}

/// Whether the process still holds the socket at the descriptor where it was seen (one readlink).
pub fn still_holds(proc_root: &Path, owner: Owner, inode: u64) -> bool {
    let link = proc_root
        .join(owner.pid.to_string())
        .join("fd")
        .join(owner.fd.to_string());
    std::fs::read_link(link).ok().and_then(|t| socket_inode(&t)) == Some(inode)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_socket_links() {
        assert_eq!(socket_inode(Path::new("socket:[12345]")), Some(12345));
        assert_eq!(socket_inode(Path::new("pipe:[12345]")), None);
        assert_eq!(socket_inode(Path::new("socket:[]")), None);
        assert_eq!(socket_inode(Path::new("socket:[-1]")), None);
        assert_eq!(socket_inode(Path::new("/dev/null")), None);
    }

    #[test]
    fn maps_sockets_to_the_lowest_pid_and_respects_the_cap() {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path();
        for (pid, links) in [
            ("300", &[("3", "socket:[1]"), ("4", "socket:[2]")][..]),
            (
                "20",
                &[("0", "/dev/null"), ("7", "socket:[1]"), ("8", "pipe:[5]")][..],
            ),
            ("self", &[("9", "socket:[3]")][..]),
        ] {
            let fd = proc.join(pid).join("fd");
            std::fs::create_dir_all(&fd).unwrap();
            for (n, target) in links {
                symlink(target, fd.join(n)).unwrap();
            }
        }
        // A process without an fd folder (it ended) is skipped.
        std::fs::create_dir_all(proc.join("400")).unwrap();

        let full = scan(proc, 100, &[]);
        assert_eq!(full.owners.len(), 2);
        assert_eq!(full.owners[&1], Owner { pid: 20, fd: 7 });
        assert_eq!(full.owners[&2], Owner { pid: 300, fd: 4 });
        assert_eq!((full.unreadable, full.over_cap), (0, 0));
        assert!(still_holds(proc, Owner { pid: 20, fd: 7 }, 1));
        assert!(!still_holds(proc, Owner { pid: 20, fd: 8 }, 1));
        assert!(!still_holds(proc, Owner { pid: 21, fd: 7 }, 1));

        let capped = scan(proc, 0, &[2]);
        assert_eq!(capped.owners.len(), 1);
        assert_eq!(capped.owners[&2].pid, 300);
        assert_eq!(capped.over_cap, 2);

        assert!(scan(&proc.join("missing"), 10, &[]).owners.is_empty());
    }
}
