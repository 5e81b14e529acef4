//! Which flows the audit is about. `host`: every flow the capture holds. `server`: the
//! flows of the media server's own processes (named in the rules file's `[server]`
//! section), told by process attribution, and of whatever process serves the server's
//! ports (docker-proxy publishing a container's port, say). `server_ip`: the flows of one machine, seen from another (a NAS captured over
//! ssh, a mirror port).
//!
//! A flow leaves the audit only on proof: its own socket, or the kernel's event for it, shows that
//! another program owns it. A flow whose process is unknown stays in, and so does one tied to its
//! process by a guess (a listener on its port): an auditor does not hide what it cannot place. Every
//! flow left out is listed in the report, with its process and how that was found, so that a reader
//! can check each exclusion.

use super::Rules;
use crate::flows::Flow;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditScope {
    Host,
    Server {
        processes: Vec<String>,
        ports: Vec<u16>,
    },
    ServerIp(IpAddr),
}

impl AuditScope {
    pub fn server(rules: &Rules) -> AuditScope {
        AuditScope::Server {
            processes: rules.server_processes.clone(),
            ports: rules.server_ports.clone(),
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            AuditScope::Host => "host",
            AuditScope::Server { .. } => "server",
            AuditScope::ServerIp(_) => "server_ip",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            AuditScope::Host => "every flow in the capture".into(),
            AuditScope::Server { processes, .. } => {
                format!(
                    "the server's processes ({}) and ports",
                    processes.join(", ")
                )
            }
            AuditScope::ServerIp(ip) => format!("the flows of {ip}"),
        }
    }

    /// Whether the audit is about this flow.
    pub fn includes(&self, f: &Flow) -> bool {
        match self {
            AuditScope::Host => true,
            AuditScope::ServerIp(ip) => f.client.ip() == *ip || f.server.ip() == *ip,
            AuditScope::Server { processes, ports } => match &f.process {
                // unknown, or only guessed: kept
                None => true,
                Some(a) if a.how.guess() => true,
                // a server process; or another one on the server's port (docker-proxy
                // publishing a container's 32400, say)
                Some(a) => {
                    processes.iter().any(|p| is_named(p, &a.process.name))
                        || ports.contains(&f.server.port()) && f.server_scope.is_local()
                }
            },
        }
    }
}

/// Whether a process called `seen` may be the program `wanted`. The kernel keeps a process's name in
/// 15 bytes (`Plex Media Serv`); when nothing better was read, a name of that length that begins
/// `wanted` may be it, and an audit keeps what may be the server's.
fn is_named(wanted: &str, seen: &str) -> bool {
    const COMM_MAX: usize = 15;
    wanted == seen || seen.len() == COMM_MAX && wanted.as_bytes().starts_with(seen.as_bytes())
}

/// What the scope left out, for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScopeReport {
    /// `host`, `server` or `server_ip`.
    pub mode: String,
    pub description: String,
    /// Flows left out, and by which processes.
    pub left_out_flows: u64,
    pub left_out_by_process: BTreeMap<String, u64>,
    /// Every flow left out, by id, with the process and how it was found.
    pub left_out: Vec<LeftOut>,
    /// Flows kept in although a process was tied to them only by a guess.
    pub kept_on_guess: u64,
    /// Flows kept in because their process is unknown (`server` scope only).
    pub kept_unknown: u64,
}

/// One flow the scope left out, for a reader to check.
#[derive(Clone, Debug, Serialize)]
pub struct LeftOut {
    pub id: u64,
    /// `tcp`, `udp` or another protocol's name.
    pub protocol: String,
    pub client: std::net::SocketAddr,
    pub server: std::net::SocketAddr,
    /// The remote party's best name, if any was learned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The process's label, pid and executable.
    pub process: String,
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// How the process was found: `event` or `socket` (a guess never leaves a flow out).
    pub how: crate::attrib::How,
}

impl LeftOut {
    /// The flow and why it is not the server's, in words for a report:
    /// `#2 tcp 192.168.77.2:40000 → 203.0.113.11:443 (metrics.plex.tv): caddy, pid 31, /usr/bin/caddy;
    /// by the flow's own socket`. Captured text (the name, the executable) is the caller's to escape.
    pub fn describe(&self) -> String {
        let name = self
            .name
            .as_deref()
            .map_or(String::new(), |n| format!(" ({n})"));
        let exe = self
            .exe
            .as_deref()
            .map_or(String::new(), |e| format!(", {e}"));
        format!(
            "#{} {} {} → {}{name}: {}, pid {}{exe}; {}",
            self.id,
            self.protocol,
            self.client,
            self.server,
            self.process,
            self.pid,
            self.how.describe()
        )
    }
}

impl ScopeReport {
    /// What the scope kept although it could not place it, in words; `None` when nothing.
    pub fn kept_note(&self) -> Option<String> {
        if self.kept_on_guess == 0 && self.kept_unknown == 0 {
            return None;
        }
        Some(format!(
            "{} flow{} with no known process and {} tied to a process only by a guess stay in the audit",
            self.kept_unknown,
            if self.kept_unknown == 1 { "" } else { "s" },
            self.kept_on_guess
        ))
    }
}

/// Keeps the flows in scope; says what was left out.
pub fn apply(scope: &AuditScope, flows: &mut Vec<Flow>) -> ScopeReport {
    let mut report = ScopeReport {
        mode: scope.mode().into(),
        description: scope.describe(),
        ..ScopeReport::default()
    };
    let server = matches!(scope, AuditScope::Server { .. });
    flows.retain(|f| {
        let keep = scope.includes(f);
        if keep && server {
            match &f.process {
                None => report.kept_unknown += 1,
                Some(a) if a.how.guess() => report.kept_on_guess += 1,
                Some(_) => {}
            }
        }
        if !keep {
            report.left_out_flows += 1;
            let who = f
                .process
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |a| a.process.label());
            *report.left_out_by_process.entry(who.clone()).or_default() += 1;
            if let Some(a) = &f.process {
                report.left_out.push(LeftOut {
                    id: f.id,
                    protocol: f.proto.name(),
                    client: f.client,
                    server: f.server,
                    name: crate::names::best(&f.names).map(|n| n.name.clone()),
                    process: who,
                    pid: a.process.pid,
                    exe: a.process.exe.clone(),
                    how: a.how,
                });
            }
        }
        keep
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrib::{Attribution, How, ProcessInfo};
    use std::sync::Arc;

    fn flow(id: u64, process: Option<(&str, How)>) -> Flow {
        let mut f = crate::flows::Flow::for_tests(
            id,
            "192.168.77.2:40000".parse().unwrap(),
            "203.0.113.11:443".parse().unwrap(),
        );
        f.process = process.map(|(name, how)| Attribution {
            process: Arc::new(ProcessInfo {
                pid: 1000 + id as u32,
                name: name.into(),
                exe: None,
                cmdline: vec![],
                uid: Some(0),
                container: None,
            }),
            how,
        });
        f
    }

    #[test]
    fn leaves_out_only_on_proof_and_lists_every_exclusion() {
        let scope = AuditScope::Server {
            processes: vec!["Plex Media Server".into()],
            ports: vec![32400],
        };
        let mut flows = vec![
            flow(1, Some(("Plex Media Server", How::Socket))),
            flow(2, Some(("caddy", How::Socket))),
            flow(3, Some(("caddy", How::Event))),
            // a proxy listening on the port: a guess, kept
            flow(4, Some(("caddy", How::Listener))),
            flow(5, None),
            // the kernel's 15-byte name of Plex, the executable unread: may be the server, kept
            flow(6, Some(("Plex Media Serv", How::Event))),
            // a 15-byte name that is not a prefix of the server's
            flow(7, Some(("Plex Media Tool", How::Event))),
        ];
        let report = apply(&scope, &mut flows);
        let kept: Vec<u64> = flows.iter().map(|f| f.id).collect();
        assert_eq!(kept, [1, 4, 5, 6]);
        assert_eq!(report.left_out_flows, 3);
        assert_eq!((report.kept_on_guess, report.kept_unknown), (1, 1));
        let listed: Vec<(u64, &str, How)> = report
            .left_out
            .iter()
            .map(|l| (l.id, l.process.as_str(), l.how))
            .collect();
        assert_eq!(
            listed,
            [
                (2, "caddy", How::Socket),
                (3, "caddy", How::Event),
                (7, "Plex Media Tool", How::Event)
            ]
        );
        assert_eq!(report.left_out[0].pid, 1002);
        assert_eq!(report.left_out_by_process["caddy"], 2);
    }

    #[test]
    fn host_scope_keeps_everything() {
        let mut flows = vec![flow(1, Some(("caddy", How::Socket))), flow(2, None)];
        let report = apply(&AuditScope::Host, &mut flows);
        assert_eq!(flows.len(), 2);
        assert_eq!(report.left_out_flows, 0);
        assert_eq!((report.kept_on_guess, report.kept_unknown), (0, 0));
    }
}
