//! Which process, and which container, sent a flow: attribution from the local /proc (Linux).
//!
//! When telltale captures on the media server's own host, a flow's local endpoint leads to its socket,
//! the socket to the process holding it, and the process to its container. Everything is read from
//! files: the kernel's socket tables and process folders under /proc, and the container runtimes'
//! own files. Nothing is sent, no daemon is asked.
//!
//! - `sockets.rs`: the socket tables (/proc/net/tcp, tcp6, udp, udp6);
//! - `netns.rs`: the other network namespaces (containers on bridge networks), whose tables are read
//!   through /proc/PID/net of one process inside each;
//! - `fds.rs`: socket inode → pid, from the /proc/PID/fd links;
//! - `process.rs`: a process's name, executable, command line, uid and start time;
//! - `container.rs`: cgroup → runtime and id; names and images from Docker's and Podman's files;
//! - `addrs.rs`: which namespace holds which address, so that only a flow's own local end is ever
//!   looked up, never its far end (a neighbouring container, a proxy on the far end's port);
//! - `sightings.rs`: sockets the kernel reported as they were used (eBPF events), kept for lookups;
//! - `attributor.rs`: the [`Attributor`], which matches a flow to a socket and keeps the caches;
//! - `ebpf/`: an eBPF [`ebpf::EventSource`] that has the kernel name a socket's owner when it connects
//!   or first sends, for processes that exit before /proc can be read.
//!
//! This module is an edge: it reads files, and is called by the live capture loop when a new flow
//! appears. Where there is no /proc (other systems) it finds nothing, and says so through
//! [`Attributor::available`].

pub mod addrs;
mod attributor;
pub mod container;
pub mod ebpf;
pub mod fds;
pub mod netns;
pub mod process;
pub mod sightings;
pub mod sockets;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use attributor::{AttribStats, Attributor};
pub use sightings::Sighting;

/// A process, as /proc described it when it was first seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub pid: u32,
    /// The program's name: the executable's file name when /proc/PID/comm is a truncated prefix of it
    /// (comm holds at most 15 bytes: "Plex Media Serv" for "/usr/lib/plexmediaserver/Plex Media Server"),
    /// else comm.
    pub name: String,
    /// Where /proc/PID/exe points (a " (deleted)" suffix is kept as the kernel gives it); `None` when it
    /// cannot be read (another user's process, without root).
    pub exe: Option<String>,
    /// /proc/PID/cmdline split on NUL, lossy UTF-8.
    pub cmdline: Vec<String>,
    /// The real uid, from /proc/PID/status.
    pub uid: Option<u32>,
    /// The container the process runs in, if its cgroup names one.
    pub container: Option<Container>,
}

/// A container, as its cgroup and its runtime's files name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Container {
    /// `docker`, `podman`, `containerd`, `cri-o`, `lxc` or `kubernetes`.
    pub runtime: String,
    /// The container's id (for lxc, its name).
    pub id: String,
    /// The container's name, where the runtime's files could be read.
    pub name: Option<String>,
    /// The image it was started from, where the runtime's files could be read.
    pub image: Option<String>,
}

/// How a flow was tied to its process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// A kernel event (eBPF) of the flow's own socket, as the process connected or first sent.
    Event,
    /// The flow's own socket, in the socket tables.
    Socket,
    /// A guess: the flow's socket was gone, and the process listening on its local port and address
    /// in the same namespace stands in.
    Listener,
}

impl How {
    /// How the process was found, in words for a report.
    pub fn describe(self) -> &'static str {
        match self {
            How::Event => "by the kernel's event for the flow's own socket",
            How::Socket => "by the flow's own socket",
            How::Listener => {
                "a guess: the process listening on its local port (the flow's socket was gone)"
            }
        }
    }

    /// Whether this is a guess rather than proof: a guess never leaves a flow out of an audit.
    pub fn guess(self) -> bool {
        self == How::Listener
    }
}

/// The process behind a flow, and how it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    pub process: Arc<ProcessInfo>,
    pub how: How,
}

/// In reports: the process's fields, its label, and how it was found, in one object.
impl Serialize for Attribution {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            #[serde(flatten)]
            process: &'a ProcessInfo,
            label: String,
            how: How,
            guess: bool,
        }
        Flat {
            process: self.process.as_ref(),
            label: self.process.label(),
            how: self.how,
            guess: self.how.guess(),
        }
        .serialize(serializer)
    }
}

impl ProcessInfo {
    /// The process for people: "Plex Media Server (docker: plex)", "Plex Media Server (podman:
    /// 3f2a9c1b2d4e)" when the container's name is unknown, "curl" outside containers.
    pub fn label(&self) -> String {
        match &self.container {
            None => self.name.clone(),
            Some(c) => {
                let who = c
                    .name
                    .clone()
                    .unwrap_or_else(|| c.id.chars().take(12).collect());
                format!("{} ({}: {})", self.name, c.runtime, who)
            }
        }
    }
}

/// What limits attribution on this host, in words for the report: /proc mounted with `hidepid`
/// hides other users' processes from a reader without CAP_SYS_PTRACE.
pub fn limits(proc_root: &Path) -> Vec<String> {
    let Ok(info) = read_limited(&proc_root.join("self").join("mountinfo"), 4 * 1024 * 1024) else {
        return vec![format!(
            "{}/self/mountinfo cannot be read: whether /proc hides processes is unknown",
            proc_root.display()
        )];
    };
    let traced = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_PTRACE,
    )
    .unwrap_or(false);
    let mount_point = proc_root.to_string_lossy();
    hidepid(&String::from_utf8_lossy(&info), &mount_point)
        .filter(|_| !traced)
        .map(|mode| {
            format!(
                "/proc is mounted with hidepid={mode} and telltale lacks CAP_SYS_PTRACE: other users' processes are hidden, and their flows stay unknown (run as root, or keep CAP_SYS_PTRACE)"
            )
        })
        .into_iter()
        .collect()
}

/// The `hidepid` mode of the proc mount at `mount_point`, from a mountinfo text, when it hides
/// anything (`1`, `2`, `noaccess`, `invisible`).
pub fn hidepid(mountinfo: &str, mount_point: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (mount, rest) = line.split_once(" - ")?;
        let point = mount.split_whitespace().nth(4)?;
        let mut fields = rest.split_whitespace();
        let (fstype, _source, options) = (fields.next()?, fields.next()?, fields.next()?);
        if point != mount_point || fstype != "proc" {
            return None;
        }
        options
            .split(',')
            .find_map(|o| o.strip_prefix("hidepid="))
            .filter(|m| !matches!(*m, "0" | "off"))
            .map(str::to_string)
    })
}

/// Reads at most `max` bytes of a file.
fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(container: Option<Container>) -> ProcessInfo {
        ProcessInfo {
            pid: 1234,
            name: "Plex Media Server".into(),
            exe: Some("/usr/lib/plexmediaserver/Plex Media Server".into()),
            cmdline: vec!["/usr/lib/plexmediaserver/Plex Media Server".into()],
            uid: Some(997),
            container,
        }
    }

    #[test]
    fn labels_say_the_program_and_its_container() {
        assert_eq!(process(None).label(), "Plex Media Server");
        let docker = Container {
            runtime: "docker".into(),
            id: "3f2a9c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8".into(),
            name: Some("plex".into()),
            image: Some("plexinc/pms-docker:latest".into()),
        };
        assert_eq!(
            process(Some(docker.clone())).label(),
            "Plex Media Server (docker: plex)"
        );
        let unnamed = Container {
            runtime: "podman".into(),
            name: None,
            image: None,
            ..docker
        };
        assert_eq!(
            process(Some(unnamed)).label(),
            "Plex Media Server (podman: 3f2a9c1b2d4e)"
        );
    }

    #[test]
    fn tells_when_proc_hides_processes() {
        let hidden = "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw,hidepid=invisible\n";
        assert_eq!(hidepid(hidden, "/proc").as_deref(), Some("invisible"));
        let two = "22 1 0:21 / /proc rw,relatime - proc proc rw,gid=4,hidepid=2\n";
        assert_eq!(hidepid(two, "/proc").as_deref(), Some("2"));
        let open = "22 1 0:21 / /proc rw,relatime - proc proc rw\n";
        assert_eq!(hidepid(open, "/proc"), None);
        let off = "22 1 0:21 / /proc rw,relatime - proc proc rw,hidepid=0\n";
        assert_eq!(hidepid(off, "/proc"), None);
        // another proc mount (a container's) is not the one read
        assert_eq!(hidepid(hidden, "/host/proc"), None);
        assert_eq!(hidepid("garbage\n", "/proc"), None);
        // this machine's own /proc: a note only when it hides something
        let notes = limits(Path::new("/proc"));
        assert!(notes.iter().all(|n| n.contains("hidepid")), "{notes:?}");
        let missing = limits(Path::new("/nonexistent-proc"));
        assert!(missing[0].contains("cannot be read"), "{missing:?}");
    }

    #[test]
    fn serialises_for_reports() {
        let attribution = Attribution {
            process: Arc::new(process(None)),
            how: How::Listener,
        };
        let json = serde_json::to_value(&attribution).unwrap();
        assert_eq!(json["how"], "listener");
        assert_eq!(json["guess"], true);
        assert_eq!(json["name"], "Plex Media Server");
        assert_eq!(json["label"], "Plex Media Server");
        assert_eq!(json["uid"], 997);
        assert_eq!(json["container"], serde_json::Value::Null);
    }
}
