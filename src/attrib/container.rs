//! Which container a process runs in, from its /proc/PID/cgroup, and the container's name and image
//! from the runtime's own files (read, never asked: no socket to a daemon is opened).
//!
//! Recognised cgroup paths (cgroup v1 `N:controllers:/path` and v2 `0::/path` lines alike):
//!
//! | runtime | path components |
//! |---|---|
//! | docker | `docker-<id>.scope` (systemd), `/docker/<id>` (cgroupfs) |
//! | podman | `libpod-<id>.scope`, `/libpod_parent/libpod-<id>` |
//! | containerd | `cri-containerd-<id>.scope`, `…slice:cri-containerd:<id>` |
//! | cri-o | `crio-<id>.scope`, `…slice:crio:<id>` |
//! | kubernetes | `/kubepods/…/<64 hex>` (cgroupfs driver; the runtime is not named) |
//! | lxc | `/lxc/<name>`, `/lxc.payload.<name>` |
//!
//! The monitors (`libpod-conmon-…`, `crio-conmon-…`, `lxc.monitor.…`) are not containers. Names and
//! images come from Docker's `containers/<id>/config.v2.json` and Podman's
//! `storage/overlay-containers/containers.json`; anything missing or unreadable is `None`.

use std::path::Path;

use serde_json::Value;

use super::{Container, read_limited};

/// At most this much of a runtime's JSON file is read.
const JSON_MAX: u64 = 64 * 1024 * 1024;

/// A container as its cgroup names it: the runtime and the id (for lxc, the name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    pub runtime: &'static str,
    pub id: String,
}

/// The container of a /proc/PID/cgroup text; the first line that names one, outermost first.
pub fn from_cgroup(text: &str) -> Option<ContainerRef> {
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let path = parts.nth(2)?;
        from_path(path)
    })
}

/// The container a cgroup path names, if any.
pub fn from_path(path: &str) -> Option<ContainerRef> {
    let found = |runtime: &'static str, id: &str| {
        Some(ContainerRef {
            runtime,
            id: id.to_string(),
        })
    };
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut previous: Option<&str> = None;
    let mut in_kubepods = false;
    for &component in &components {
        if let Some(unit) = component.strip_suffix(".scope") {
            for (prefix, runtime) in SCOPE_PREFIXES {
                if let Some(id) = unit.strip_prefix(prefix)
                    && is_hex_id(id)
                {
                    return found(runtime, id);
                }
            }
        }
        // The systemd cgroup driver of kubelet on cgroup v1: `<pod slice>:<runtime>:<id>`.
        let mut colon = component.split(':');
        if let (Some(_), Some(kind), Some(id), None) =
            (colon.next(), colon.next(), colon.next(), colon.next())
            && is_hex_id(id)
        {
            for (prefix, runtime) in SCOPE_PREFIXES {
                if prefix.strip_suffix('-') == Some(kind) {
                    return found(runtime, id);
                }
            }
        }
        if let Some(id) = component.strip_prefix("libpod-")
            && is_hex_id(id)
        {
            return found("podman", id);
        }
        if let Some(name) = component.strip_prefix("lxc.payload.")
            && !name.is_empty()
        {
            return found("lxc", name);
        }
        match previous {
            Some("docker") if is_full_id(component) => return found("docker", component),
            Some("lxc") => return found("lxc", component),
            _ => {}
        }
        if in_kubepods && is_full_id(component) {
            return found("kubernetes", component);
        }
        in_kubepods |= component == "kubepods"
            || component.starts_with("kubepods.")
            || component.starts_with("kubepods-");
        previous = Some(component);
    }
    None
}

/// systemd scope prefixes and the runtimes they stand for.
const SCOPE_PREFIXES: [(&str, &str); 4] = [
    ("docker-", "docker"),
    ("libpod-", "podman"),
    ("cri-containerd-", "containerd"),
    ("crio-", "cri-o"),
];

/// A container id in a prefixed unit: hexadecimal, at least 12 digits.
fn is_hex_id(id: &str) -> bool {
    (12..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A bare path component taken as an id only when it is a full 64-digit hexadecimal id.
fn is_full_id(id: &str) -> bool {
    id.len() == 64 && is_hex_id(id)
}

/// The container with its name and image where its runtime's files say them.
pub fn describe(found: &ContainerRef, docker_root: &Path, podman_root: &Path) -> Container {
    let (name, image) = match found.runtime {
        "docker" => docker_details(docker_root, &found.id),
        "podman" => podman_details(podman_root, &found.id),
        "lxc" => (Some(found.id.clone()), None),
        _ => (None, None),
    };
    Container {
        runtime: found.runtime.to_string(),
        id: found.id.clone(),
        name,
        image,
    }
}

fn read_json(path: &Path) -> Option<Value> {
    let bytes = read_limited(path, JSON_MAX).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn text(value: Option<&Value>) -> Option<String> {
    value?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Docker's `<docker_root>/containers/<id>/config.v2.json`: `"Name": "/plex"` and
/// `"Config": {"Image": "plexinc/pms-docker:latest"}`.
pub fn docker_details(docker_root: &Path, id: &str) -> (Option<String>, Option<String>) {
    if !is_hex_id(id) {
        return (None, None);
    }
    let Some(config) = read_json(
        &docker_root
            .join("containers")
            .join(id)
            .join("config.v2.json"),
    ) else {
        return (None, None);
    };
    let name = text(config.get("Name"))
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty());
    let image = text(config.get("Config").and_then(|c| c.get("Image")));
    (name, image)
}

/// Podman's `<podman_root>/storage/overlay-containers/containers.json`: an array of
/// `{"id", "names": [..], "image", "metadata"}`. `image` there is the image's id; the name it was
/// pulled by sits in `metadata`, itself a JSON text (`{"image-name": "docker.io/plexinc/pms-docker:latest"}`),
/// and is preferred.
pub fn podman_details(podman_root: &Path, id: &str) -> (Option<String>, Option<String>) {
    let path = podman_root
        .join("storage")
        .join("overlay-containers")
        .join("containers.json");
    let Some(Value::Array(containers)) = read_json(&path) else {
        return (None, None);
    };
    let Some(entry) = containers
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
    else {
        return (None, None);
    };
    let name = text(
        entry
            .get("names")
            .and_then(Value::as_array)
            .and_then(|names| names.first()),
    );
    let pulled_as = text(entry.get("metadata"))
        .and_then(|m| serde_json::from_str::<Value>(&m).ok())
        .and_then(|m| text(m.get("image-name")));
    (name, pulled_as.or_else(|| text(entry.get("image"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

    fn found(runtime: &'static str, id: &str) -> Option<ContainerRef> {
        Some(ContainerRef {
            runtime,
            id: id.to_string(),
        })
    }

    #[test]
    fn recognises_each_runtime() {
        let cases = [
            (
                format!("0::/system.slice/docker-{ID}.scope"),
                found("docker", ID),
            ),
            (
                format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}"),
                found("docker", ID),
            ),
            (format!("0::/docker/{ID}/init.scope"), found("docker", ID)),
            (
                format!("0::/machine.slice/libpod-{ID}.scope/container"),
                found("podman", ID),
            ),
            (
                format!(
                    "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
                ),
                found("podman", ID),
            ),
            (
                format!("3:cpu:/libpod_parent/libpod-{ID}"),
                found("podman", ID),
            ),
            (
                format!(
                    "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{ID}.scope"
                ),
                found("containerd", ID),
            ),
            (
                format!(
                    "0::/system.slice/containerd.service/kubepods-burstable-pod7.slice:cri-containerd:{ID}"
                ),
                found("containerd", ID),
            ),
            (
                format!("0::/kubepods.slice/kubepods-pod9.slice/crio-{ID}.scope"),
                found("cri-o", ID),
            ),
            (
                format!("4:memory:/kubepods/besteffort/pod0b1c-22/{ID}"),
                found("kubernetes", ID),
            ),
            (
                "5:cpuset:/lxc/webserver".to_string(),
                found("lxc", "webserver"),
            ),
            (
                "0::/lxc.payload.webserver/system.slice/nginx.service".to_string(),
                found("lxc", "webserver"),
            ),
        ];
        for (cgroup, expected) in cases {
            assert_eq!(from_cgroup(&cgroup), expected, "{cgroup}");
        }
    }

    #[test]
    fn ignores_hosts_and_monitors() {
        for cgroup in [
            "0::/".to_string(),
            "0::/system.slice/plexmediaserver.service".to_string(),
            "9:name=systemd:/\n0::/user.slice/user-1000.slice/session-2.scope".to_string(),
            format!("0::/machine.slice/libpod-conmon-{ID}.scope"),
            format!("0::/system.slice/crio-conmon-{ID}.scope"),
            "0::/lxc.monitor.webserver".to_string(),
            "0::/docker/buildkit".to_string(),
            "0::/system.slice/docker-abc.scope".to_string(),
            "0::/system.slice/docker.service".to_string(),
            "garbage".to_string(),
            "1:2".to_string(),
            String::new(),
        ] {
            assert_eq!(from_cgroup(&cgroup), None, "{cgroup}");
        }
    }

    #[test]
    fn reads_docker_and_podman_names() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker");
        let podman = dir.path().join("containers");
        std::fs::create_dir_all(docker.join("containers").join(ID)).unwrap();
        std::fs::write(
            docker.join("containers").join(ID).join("config.v2.json"),
            r#"{"ID":"x","Name":"/plex","Config":{"Hostname":"pms","Image":"plexinc/pms-docker:latest"}}"#,
        )
        .unwrap();
        assert_eq!(
            docker_details(&docker, ID),
            (
                Some("plex".into()),
                Some("plexinc/pms-docker:latest".into())
            )
        );
        assert_eq!(docker_details(&docker, &ID.replace('3', "4")), (None, None));
        assert_eq!(docker_details(&docker, "../../etc"), (None, None));

        let storage = podman.join("storage").join("overlay-containers");
        std::fs::create_dir_all(&storage).unwrap();
        let other = ID.replace('f', "0");
        std::fs::write(
            storage.join("containers.json"),
            format!(
                r#"[{{"id":"{other}"}},
                    {{"id":"{ID}","names":["jellyfin"],"image":"9d1f0e","metadata":"{{\"image-name\":\"docker.io/jellyfin/jellyfin:latest\",\"name\":\"jellyfin\"}}"}},
                    {{"id":"abc","names":[],"image":"5e4d"}}]"#
            ),
        )
        .unwrap();
        assert_eq!(
            podman_details(&podman, ID),
            (
                Some("jellyfin".into()),
                Some("docker.io/jellyfin/jellyfin:latest".into())
            )
        );
        assert_eq!(podman_details(&podman, &other), (None, None));
        assert_eq!(podman_details(&podman, "abc"), (None, Some("5e4d".into())));

        let described = describe(
            &ContainerRef {
                runtime: "podman",
                id: ID.into(),
            },
            &docker,
            &podman,
        );
        assert_eq!(described.name.as_deref(), Some("jellyfin"));
        let lxc = describe(
            &ContainerRef {
                runtime: "lxc",
                id: "web".into(),
            },
            &docker,
            &podman,
        );
        assert_eq!((lxc.name.as_deref(), lxc.image), (Some("web"), None));

        // Files that are not what they should be give nothing, never an error.
        std::fs::write(storage.join("containers.json"), "{\"id\": 1}").unwrap();
        assert_eq!(podman_details(&podman, ID), (None, None));
        std::fs::write(
            docker.join("containers").join(ID).join("config.v2.json"),
            r#"{"Name":5,"Config":[]}"#,
        )
        .unwrap();
        assert_eq!(docker_details(&docker, ID), (None, None));
        std::fs::write(
            docker.join("containers").join(ID).join("config.v2.json"),
            "{\"Name\":\"/pl",
        )
        .unwrap();
        assert_eq!(docker_details(&docker, ID), (None, None));
    }
}
