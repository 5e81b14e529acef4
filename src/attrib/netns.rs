//! The other network namespaces: which exist, and one process in each through which their socket
//! tables can be read.
//!
//! /proc/net/{tcp,udp,...} only list the sockets of the reader's own network namespace. A container on a
//! bridge network has a namespace of its own, whose tables show in /proc/PID/net/* of any process inside
//! it. A process's namespace is the target of its /proc/PID/ns/net link, `net:[INODE]`; processes are
//! grouped by that inode. Reading the link of another user's process needs root or CAP_SYS_PTRACE; a
//! process whose link cannot be read is left out (the fd scan counts such processes already, since their
//! sockets cannot be attributed either way).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::fds;

/// At most this many other network namespaces are read.
pub const MAX_NAMESPACES: usize = 256;
/// At most this many of a namespace's processes are kept, lowest pid first, to read its tables through:
/// the next one is tried when the first has ended.
pub const PIDS_PER_NAMESPACE: usize = 3;

/// One network namespace and some of its processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// The inode of the namespace, from `net:[INODE]`.
    pub inode: u64,
    /// Processes inside it, lowest pid first, at most [`PIDS_PER_NAMESPACE`].
    pub pids: Vec<u32>,
}

/// The result of one listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// The namespaces, in the order of their lowest pid.
    pub namespaces: Vec<Namespace>,
    /// Namespaces left out because the cap was reached.
    pub over_cap: u64,
}

/// The inode of a `net:[INODE]` link target.
pub fn netns_inode(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("net:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The network namespace of `pid` (or of `self`), when its link can be read.
pub fn namespace_of(proc_root: &Path, process: &str) -> Option<u64> {
    let link = proc_root.join(process).join("ns").join("net");
    netns_inode(&std::fs::read_link(link).ok()?)
}

/// The network namespaces of the processes in `proc_root`, but `except` (the reader's own), at most `cap`
/// of them: those with the lowest pids.
pub fn list(proc_root: &Path, except: Option<u64>, cap: usize) -> Listing {
    let mut listing = Listing::default();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut left_out: HashSet<u64> = HashSet::new();
    for pid in fds::pids(proc_root) {
        let Some(inode) = namespace_of(proc_root, &pid.to_string()) else {
            continue;
        };
        if Some(inode) == except {
            continue;
        }
        if let Some(&at) = index.get(&inode) {
            if let Some(known) = listing.namespaces.get_mut(at)
                && known.pids.len() < PIDS_PER_NAMESPACE
            {
                known.pids.push(pid);
            }
            continue;
        }
        if listing.namespaces.len() >= cap {
            left_out.insert(inode);
            continue;
        }
        index.insert(inode, listing.namespaces.len());
        listing.namespaces.push(Namespace {
            inode,
            pids: vec![pid],
        });
    }
    listing.over_cap = left_out.len() as u64;
    listing
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_namespace_links() {
        assert_eq!(netns_inode(Path::new("net:[4026531992]")), Some(4026531992));
        assert_eq!(netns_inode(Path::new("mnt:[4026531992]")), None);
        assert_eq!(netns_inode(Path::new("net:[]")), None);
        assert_eq!(netns_inode(Path::new("net:[12")), None);
        assert_eq!(netns_inode(Path::new("socket:[12]")), None);
    }

    #[test]
    fn groups_processes_by_namespace_and_respects_the_cap() {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path();
        let link = |process: &str, target: &str| {
            let ns = proc.join(process).join("ns");
            std::fs::create_dir_all(&ns).unwrap();
            symlink(target, ns.join("net")).unwrap();
        };
        link("self", "net:[100]");
        for (pid, ns) in [
            ("1", "net:[100]"),
            ("50", "net:[300]"),
            ("7", "net:[200]"),
            ("8", "net:[200]"),
            ("9", "net:[200]"),
            ("10", "net:[200]"),
            ("60", "net:[400]"),
            ("70", "garbage"),
        ] {
            link(pid, ns);
        }
        // A process without an ns folder (it ended, or a kernel without one) is left out.
        std::fs::create_dir_all(proc.join("80")).unwrap();

        let own = namespace_of(proc, "self");
        assert_eq!(own, Some(100));
        let all = list(proc, own, 10);
        assert_eq!(
            all.namespaces,
            vec![
                Namespace {
                    inode: 200,
                    pids: vec![7, 8, 9]
                },
                Namespace {
                    inode: 300,
                    pids: vec![50]
                },
                Namespace {
                    inode: 400,
                    pids: vec![60]
                },
            ]
        );
        assert_eq!(all.over_cap, 0);

        let capped = list(proc, own, 1);
        assert_eq!(capped.namespaces.len(), 1);
        assert_eq!(capped.namespaces[0].inode, 200);
        assert_eq!(capped.over_cap, 2);

        // The own namespace unknown: it is listed like the others.
        assert_eq!(list(proc, None, 10).namespaces[0].inode, 100);
        assert_eq!(list(&proc.join("missing"), None, 10), Listing::default());
    }
}
