//! Least privilege. Capturing needs `cap_net_raw` (and `cap_net_admin` for some libpcap
//! setups) only to open the capture handle. Once it is open, telltale keeps no
//! capability it no longer needs, sets no_new_privs, and, when started through sudo, runs
//! on as the user who invoked it. Process attribution alone may keep `cap_sys_ptrace` and
//! `cap_dac_read_search`: reading another user's /proc/PID/fd and the container runtimes'
//! files needs them. Reading a capture file keeps nothing.
//!
//! Capabilities are per thread: this must run on the main thread before any other
//! thread starts, so that every thread inherits the reduced set.

use caps::{CapSet, Capability, CapsHashSet};
use std::fmt;

/// What was given up, for the report and for `SECURITY.md`'s promises to be testable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The user and group switched to (the sudo caller), if any.
    pub user: Option<(u32, u32)>,
    /// The capabilities still held (effective and permitted).
    pub kept: Vec<String>,
    pub no_new_privs: bool,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((uid, gid)) = self.user {
            write!(f, "running as uid {uid}, gid {gid}; ")?;
        }
        if self.kept.is_empty() {
            write!(f, "no capabilities kept")?;
        } else {
            write!(f, "capabilities kept: {}", self.kept.join(", "))?;
        }
        if self.no_new_privs {
            write!(f, "; no_new_privs set")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivilegeError(pub String);

impl fmt::Display for PrivilegeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the rest of the run needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing: a capture file, or a live capture whose handle is already open.
    Nothing,
    /// Process attribution: reading other users' /proc/PID/fd and container files.
    Attribution,
}

fn kept_for(need: Need) -> CapsHashSet {
    match need {
        Need::Nothing => CapsHashSet::new(),
        Need::Attribution => [Capability::CAP_SYS_PTRACE, Capability::CAP_DAC_READ_SEARCH]
            .into_iter()
            .collect(),
    }
}

/// The sudo caller's uid and gid, when this process is root started by sudo.
fn sudo_caller() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let uid: u32 = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid: u32 = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    (uid != 0).then_some((uid, gid))
}

/// Gives up every privilege the run does not need. Call on the main thread, after the
/// capture handle is open and before any other thread starts.
pub fn drop_privileges(need: Need) -> Result<Dropped, PrivilegeError> {
    let keep = kept_for(need);
    let err = |what: &str, e: &dyn fmt::Display| PrivilegeError(format!("cannot {what}: {e}"));
    let permitted =
        caps::read(None, CapSet::Permitted).map_err(|e| err("read the capabilities", &e))?;
    // keep only what is both needed and held
    let keep: CapsHashSet = keep.intersection(&permitted).copied().collect();
    let user = sudo_caller();

    // The bounding set can only shrink while CAP_SETPCAP is effective: first.
    if permitted.contains(&Capability::CAP_SETPCAP) {
        for cap in
            caps::read(None, CapSet::Bounding).map_err(|e| err("read the bounding set", &e))?
        {
            if !keep.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap)
                    .map_err(|e| err("shrink the bounding set", &e))?;
            }
        }
    }
    if let Some((uid, gid)) = user {
        // keep the permitted set across the change of user, then narrow it
        nix::sys::prctl::set_keepcaps(true)
            .map_err(|e| err("keep capabilities across setuid", &e))?;
        let gid = nix::unistd::Gid::from_raw(gid);
        nix::unistd::setgroups(&[gid]).map_err(|e| err("set the supplementary groups", &e))?;
        nix::unistd::setresgid(gid, gid, gid)
            .map_err(|e| err("switch to the invoking user's group", &e))?;
        let uid = nix::unistd::Uid::from_raw(uid);
        nix::unistd::setresuid(uid, uid, uid)
            .map_err(|e| err("switch to the invoking user", &e))?;
        nix::sys::prctl::set_keepcaps(false).map_err(|e| err("reset keepcaps", &e))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clear the ambient capabilities", &e))?;
    caps::clear(None, CapSet::Inheritable)
        .map_err(|e| err("clear the inheritable capabilities", &e))?;
    caps::set(None, CapSet::Effective, &keep)
        .map_err(|e| err("set the effective capabilities", &e))?;
    caps::set(None, CapSet::Permitted, &keep)
        .map_err(|e| err("set the permitted capabilities", &e))?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| err("set no_new_privs", &e))?;
    let mut kept: Vec<String> = keep.iter().map(|c| c.to_string().to_lowercase()).collect();
    kept.sort();
    Ok(Dropped {
        user,
        kept,
        no_new_privs: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_attribution_keeps() {
        assert!(kept_for(Need::Nothing).is_empty());
        let a = kept_for(Need::Attribution);
        assert!(
            a.contains(&Capability::CAP_SYS_PTRACE) && a.contains(&Capability::CAP_DAC_READ_SEARCH)
        );
        assert!(!a.contains(&Capability::CAP_NET_RAW));
    }

    #[test]
    fn the_summary_reads_plainly() {
        let d = Dropped {
            user: Some((1000, 1000)),
            kept: vec![],
            no_new_privs: true,
        };
        assert_eq!(
            d.to_string(),
            "running as uid 1000, gid 1000; no capabilities kept; no_new_privs set"
        );
    }
}
