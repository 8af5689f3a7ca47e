//! Network partitions for the soak: each host process runs in a network namespace of its own,
//! joined to the machine by a veth pair with a /30 of private addresses the soak assigns. The
//! namespace has no other link and no default route, so its traffic goes only to the server's
//! address on the other end of its pair; the server listens there as well as on loopback.
//! Cutting a host takes the machine's end of its pair down: packets are dropped silently, as in
//! a real partition (connections hang rather than fail). Healing brings it up again.
//!
//! Needs root (`ip netns`, `ip link`). Everything is removed when the [`Network`] is dropped.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The namespaces and links of one soak.
#[derive(Debug)]
pub struct Network {
    links: Vec<Link>,
}

/// One host's namespace and link.
#[derive(Debug)]
struct Link {
    namespace: String,
    /// The machine's end of the veth pair.
    outer: String,
    /// The address of the machine's end: where the host reaches the server.
    server_side: Ipv4Addr,
}

/// Run `ip ARGS`, failing with what it printed.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip ({e}): install iproute2"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Network {
    /// A namespace and link for each of `hosts` hosts.
    ///
    /// # Errors
    /// When a namespace or link cannot be made (not root, no `ip`); what was made is removed.
    pub fn create(hosts: usize) -> Result<Self, String> {
        let pid = std::process::id() % 100_000;
        // A second octet per process, so two soaks on one machine do not share addresses.
        let octet = 200 + u8::try_from(pid % 50).expect("below 50");
        let mut network = Self { links: Vec::new() };
        for index in 0..hosts {
            let third = u8::try_from(index + 1).map_err(|_| "at most 255 hosts".to_owned())?;
            let link = Link {
                namespace: format!("roster-soak-{pid}-{index}"),
                outer: format!("rso{pid}-{index}"),
                server_side: Ipv4Addr::new(10, octet, third, 1),
            };
            let inner = format!("rsi{pid}-{index}");
            let host_side = Ipv4Addr::new(10, octet, third, 2);
            ip(&["netns", "add", &link.namespace])?;
            network.links.push(link);
            let link = network.links.last().expect("just pushed");
            ip(&[
                "link",
                "add",
                &link.outer,
                "type",
                "veth",
                "peer",
                "name",
                &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &link.namespace])?;
            ip(&[
                "addr",
                "add",
                &format!("{}/30", link.server_side),
                "dev",
                &link.outer,
            ])?;
            ip(&["link", "set", &link.outer, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &link.namespace, "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &format!("{host_side}/30"), "dev", &inner])?;
            inside(&["link", "set", &inner, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(network)
    }

    /// The server's address as host `index` reaches it.
    pub fn server_side(&self, index: usize) -> Ipv4Addr {
        self.links[index].server_side
    }

    /// Every server-side address, for the server to listen on.
    pub fn server_addresses(&self) -> Vec<Ipv4Addr> {
        self.links.iter().map(|link| link.server_side).collect()
    }

    /// A command that runs `program` in host `index`'s namespace.
    pub fn command(&self, index: usize, program: &std::path::Path) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.links[index].namespace])
            .arg(program);
        command
    }

    /// Cut host `index` from the server: its packets are dropped until [`Network::heal`].
    ///
    /// # Panics
    /// When the link cannot be taken down.
    pub fn cut(&self, index: usize) {
        ip(&["link", "set", &self.links[index].outer, "down"]).expect("cut a host's link");
    }

    /// Join host `index` to the server again.
    ///
    /// # Panics
    /// When the link cannot be brought up.
    pub fn heal(&self, index: usize) {
        ip(&["link", "set", &self.links[index].outer, "up"]).expect("heal a host's link");
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for link in &self.links {
            // Deleting one end of a veth pair deletes both.
            let _ = ip(&["link", "del", &link.outer]);
            let _ = ip(&["netns", "del", &link.namespace]);
        }
    }
}
