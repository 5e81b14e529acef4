//! Which flows the audit is about. `host`: every flow the capture holds. `server`: the
//! flows of the media server's own processes (named in the rules file's `[server]`
//! section), told by process attribution, and of whatever process serves the server's
//! ports (docker-proxy publishing a container's port, say). `server_ip`: the flows of one machine, seen from another (a NAS captured over
//! ssh, a mirror port). A flow whose process is unknown stays in: an auditor does not
//! hide what it cannot place.

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
                // a server process; or another one on the server's port (docker-proxy
                // publishing a container's 32400, say)
                Some(a) => {
                    processes.iter().any(|p| *p == a.process.name)
                        || ports.contains(&f.server.port()) && f.server_scope.is_local()
                }
                None => true,
            },
        }
    }
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
}

/// Keeps the flows in scope; says what was left out.
pub fn apply(scope: &AuditScope, flows: &mut Vec<Flow>) -> ScopeReport {
    let mut report = ScopeReport {
        mode: scope.mode().into(),
        description: scope.describe(),
        ..ScopeReport::default()
    };
    flows.retain(|f| {
        let keep = scope.includes(f);
        if !keep {
            report.left_out_flows += 1;
            let who = f
                .process
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |a| a.process.label());
            *report.left_out_by_process.entry(who).or_default() += 1;
        }
        keep
    });
    report
}
