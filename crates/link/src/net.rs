//! Socket options every TCP connection of the station gets.
//!
//! A pulled cable or a controller power-cycled without a FIN leaves a TCP connection
//! open on our side forever: nothing is sent, so nothing fails. TCP keepalive probes an
//! idle connection and fails it when the peer stops answering: after
//! [`KEEPALIVE_IDLE`] of silence, a probe every [`KEEPALIVE_INTERVAL`], dead after
//! [`KEEPALIVE_RETRIES`] unanswered ones (8 s in all). The stream's own read deadline
//! (heartbeats) is faster; keepalive is what catches Modbus and the camera, which wait
//! on their peer between requests.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

/// Silence before the first keepalive probe.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
/// Time between unanswered probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// Unanswered probes before the connection fails.
pub const KEEPALIVE_RETRIES: u32 = 3;

/// Turns TCP keepalive on for a socket (see the module's documentation).
pub fn keepalive<S: AsFd>(socket: &S) -> io::Result<()> {
    let params = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    socket2::SockRef::from(socket).set_tcp_keepalive(&params)
}

/// Connects within `timeout`, with no Nagle delay and keepalive on.
pub async fn connect(
    addr: impl tokio::net::ToSocketAddrs,
    timeout: Duration,
) -> io::Result<tokio::net::TcpStream> {
    let s = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    s.set_nodelay(true)?;
    keepalive(&s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn connected_sockets_have_keepalive_on() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = connect(l.local_addr().unwrap(), Duration::from_secs(1))
            .await
            .unwrap();
        let r = socket2::SockRef::from(&s);
        assert!(r.keepalive().unwrap());
        assert_eq!(r.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(r.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(r.tcp_keepalive_retries().unwrap(), KEEPALIVE_RETRIES);
        assert!(s.nodelay().unwrap());
    }
}
