//! `echo-server`: echoes with `wasync::net`, then exits.
//!
//! ```sh
//! echo-server tcp ADDR N   # accept N connections, echo each (at once) until its peer closes
//! echo-server udp ADDR N   # echo N datagrams back to their senders
//! ```
//!
//! It prints `listening on IP:PORT` (flushed) as soon as it is bound, so
//! that whoever started it with port 0 learns the port, and at the end one
//! line per connection (`echoed N bytes to PEER`) or datagram.

use std::io::Write;

use wasync::futures::io::copy;
use wasync::net::{TcpListener, UdpSocket};
use wasync::task::JoinSet;

fn announce(addr: std::net::SocketAddr) {
    println!("listening on {addr}");
    // The reader of our stdout waits for this line before it connects.
    let _ = std::io::stdout().flush();
}

async fn tcp(addr: &str, n: usize) -> Result<(), String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| e.to_string())?;
    announce(listener.local_addr().map_err(|e| e.to_string())?);
    let mut echoes = JoinSet::new();
    for _ in 0..n {
        let (conn, peer) = listener.accept().await.map_err(|e| e.to_string())?;
        // Each connection is a task: the listener keeps accepting.
        echoes.spawn(async move {
            let (reader, mut writer) = conn.into_split();
            let n = copy(reader, &mut writer).await?;
            wasync::futures::AsyncWriteExt::close(&mut writer).await?;
            Ok::<_, std::io::Error>(format!("echoed {n} bytes to {peer}"))
        });
    }
    for done in echoes.join_all().await {
        let line = done
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        println!("{line}");
    }
    Ok(())
}

async fn udp(addr: &str, n: usize) -> Result<(), String> {
    let socket = UdpSocket::bind(addr).await.map_err(|e| e.to_string())?;
    announce(socket.local_addr().map_err(|e| e.to_string())?);
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..n {
        let (len, peer) = socket
            .recv_from(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        socket
            .send_to(&buf[..len], peer)
            .await
            .map_err(|e| e.to_string())?;
        println!("echoed a datagram of {len} bytes to {peer}");
    }
    Ok(())
}

#[wasync::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: echo-server tcp|udp ADDR COUNT";
    let [kind, addr, count] = &args[..] else {
        return Err(usage.into());
    };
    let count: usize = count.parse().map_err(|_| usage.to_owned())?;
    match kind.as_str() {
        "tcp" => tcp(addr, count).await,
        "udp" => udp(addr, count).await,
        _ => Err(usage.into()),
    }
}
