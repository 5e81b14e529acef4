//! Capture interfaces: which one holds the default route (read from the kernel's routing
//! table in /proc, never by sending anything), and the list libpcap offers.

use std::path::Path;

/// The interface of the IPv4 default route, from a /proc/net/route text.
pub fn default_route_in(route_table: &str) -> Option<String> {
    route_table.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace();
        let iface = cols.next()?;
        let destination = cols.next()?;
        let mask = cols.nth(5)?;
        (destination == "00000000" && mask == "00000000").then(|| iface.to_string())
    })
}

/// The interface holding the default route on this machine, if it has one.
pub fn default_route_interface() -> Option<String> {
    let text = std::fs::read_to_string(Path::new("/proc/net/route")).ok()?;
    default_route_in(&text)
}

/// One capture device, as `telltale interfaces` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub description: Option<String>,
    pub addresses: Vec<std::net::IpAddr>,
    pub up: bool,
    pub loopback: bool,
    pub default_route: bool,
}

/// The devices libpcap can capture on, the default route's first.
pub fn list() -> Result<Vec<Interface>, String> {
    let default = default_route_interface();
    let devices =
        pcap::Device::list().map_err(|e| format!("cannot list the capture interfaces: {e}"))?;
    let mut out: Vec<Interface> = devices
        .into_iter()
        .map(|d| Interface {
            default_route: default.as_deref() == Some(d.name.as_str()),
            up: d.flags.is_up(),
            loopback: d.flags.is_loopback(),
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            description: d.desc,
            name: d.name,
        })
        .collect();
    out.sort_by_key(|i| {
        (
            !i.default_route,
            i.loopback,
            i.name == "any",
            i.name.clone(),
        )
    });
    Ok(out)
}

/// The listing as text: one interface a line, its addresses, and what it is.
pub fn render(list: &[Interface]) -> String {
    let width = list.iter().map(|i| i.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}  {:<8}  addresses\n", "name", "state");
    for i in list {
        let mut notes = Vec::new();
        if i.default_route {
            notes.push("default route: `telltale watch` captures here".to_string());
        }
        if i.loopback {
            notes.push("loopback".into());
        }
        if let Some(d) = &i.description {
            notes.push(d.clone());
        }
        let addrs: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
        let addrs = if addrs.is_empty() {
            "-".to_string()
        } else {
            addrs.join(", ")
        };
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join("; "))
        };
        out.push_str(&format!(
            "{:<width$}  {:<8}  {addrs}{notes}\n",
            i.name,
            if i.up { "up" } else { "down" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listing_marks_the_default_route() {
        let list = vec![
            Interface {
                name: "eth0".into(),
                description: None,
                addresses: vec!["192.168.1.10".parse().unwrap()],
                up: true,
                loopback: false,
                default_route: true,
            },
            Interface {
                name: "lo".into(),
                description: None,
                addresses: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
                up: true,
                loopback: true,
                default_route: false,
            },
        ];
        let text = render(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].starts_with("eth0")
                && lines[1].contains("192.168.1.10")
                && lines[1].contains("default route")
        );
        assert!(lines[2].contains("127.0.0.1, ::1") && lines[2].contains("loopback"));
    }

    use super::*;

    #[test]
    fn finds_the_default_route() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
                     eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                     eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(default_route_in(table).as_deref(), Some("eth0"));
        assert_eq!(default_route_in("Iface\tDestination\n"), None);
    }
}
