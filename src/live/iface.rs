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

#[cfg(test)]
mod tests {
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
