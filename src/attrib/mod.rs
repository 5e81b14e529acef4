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
//! - `attributor.rs`: the [`Attributor`], which matches a flow to a socket and keeps the caches;
//! - `ebpf/`: an eBPF [`ebpf::EventSource`] that has the kernel name a socket's owner when it connects
//!   or first sends, for processes that exit before /proc can be read.
//!
//! This module is an edge: it reads files, and is called by the live capture loop when a new flow
//! appears. Where there is no /proc (other systems) it finds nothing, and says so through
//! [`Attributor::available`].

// Parsers of hostile input: no unwrap, expect or indexing that can panic outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod attributor;
pub mod container;
pub mod ebpf;
pub mod fds;
pub mod netns;
pub mod process;
pub mod sockets;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use attributor::{AttribStats, Attributor};

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
    /// The flow's own socket.
    Socket,
    /// The flow's socket was gone: the process listening on (or bound to) its local port.
    Listener,
}

impl How {
    /// How the process was found, in words for a report.
    pub fn describe(self) -> &'static str {
        match self {
            How::Socket => "by the flow's own socket",
            How::Listener => {
                "by the process listening on its local port (the flow's socket was gone)"
            }
        }
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
        }
        Flat {
            process: self.process.as_ref(),
            label: self.process.label(),
            how: self.how,
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
    fn serialises_for_reports() {
        let attribution = Attribution {
            process: Arc::new(process(None)),
            how: How::Listener,
        };
        let json = serde_json::to_value(&attribution).unwrap();
        assert_eq!(json["how"], "listener");
        assert_eq!(json["name"], "Plex Media Server");
        assert_eq!(json["label"], "Plex Media Server");
        assert_eq!(json["uid"], 997);
        assert_eq!(json["container"], serde_json::Value::Null);
    }
}
