//! `net-client`: one exchange with `wasync::net`, printed to stdout.
//!
//! ```sh
//! net-client tcp ADDR MESSAGE   # send MESSAGE, close the sending side, print the reply
//! net-client udp ADDR MESSAGE   # send one datagram, print the one that comes back
//! net-client lookup HOST        # print each address of HOST on a line
//! ```
//!
//! ADDR is `ip:port` or `host:port`. Errors end the command with status 1
//! and the error on stderr (a host without network access says how to
//! grant it).

use std::time::Duration;

use wasync::futures::{AsyncReadExt, AsyncWriteExt};
use wasync::net::{TcpStream, UdpSocket, lookup_host};

async fn tcp(addr: &str, message: &str) -> Result<String, std::io::Error> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(message.as_bytes()).await?;
    conn.close().await?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await?;
    Ok(reply)
}

async fn udp(addr: &str, message: &str) -> Result<String, std::io::Error> {
    let peer: std::net::SocketAddr = addr.parse().map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
    })?;
    let local = if peer.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let mut socket = UdpSocket::bind(local).await?;
    socket.connect(peer)?;
    socket.send(message.as_bytes()).await?;
    let mut buf = [0u8; 1500];
    // A lost datagram would wait forever: give up after a while.
    let n = wasync::time::timeout(Duration::from_secs(10), socket.recv(&mut buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply in 10 s"))??;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[wasync::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: net-client tcp|udp ADDR MESSAGE | net-client lookup HOST";
    let out = match &args[..] {
        [kind, addr, message] if kind == "tcp" => tcp(addr, message).await,
        [kind, addr, message] if kind == "udp" => udp(addr, message).await,
        [kind, host] if kind == "lookup" => lookup_host(host).await.map(|addrs| {
            addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        }),
        _ => return Err(usage.into()),
    };
    let out = out.map_err(|e| e.to_string())?;
    println!("{out}");
    Ok(())
}
