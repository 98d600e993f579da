//! A TCP proxy between the service and its database, to play outages.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU32, Ordering},
};

/// A TCP proxy on loopback that a test can cut (dropping every connection and refusing new ones)
/// and restore, to play a database outage; arm to cut the moment a client sends given bytes, to
/// break a connection in the middle of a transaction; or silence, to play a network that drops
/// every packet of the connections open then without closing them.
pub struct TcpProxy {
    pub port: u16,
    shared: Arc<ProxyState>,
    accept: tokio::task::JoinHandle<()>,
}

/// The longest trip wire a [`TcpProxy`] can be armed with.
pub const MAX_TRIP_WIRE: usize = 64;

#[derive(Default)]
struct ProxyState {
    open: AtomicBool,
    /// Each connection's task, and whether it is silenced.
    connections: Mutex<Vec<(tokio::task::AbortHandle, Arc<AtomicBool>)>>,
    /// Bytes that, when a client sends them, cut the proxy before they are forwarded.
    trip_wire: Mutex<Option<Vec<u8>>>,
    tripped: AtomicU32,
}

impl ProxyState {
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for (connection, _) in self.connections.lock().expect("not poisoned").drain(..) {
            connection.abort();
        }
    }

    /// Whether `bytes` hold the armed trip wire; disarms it when they do.
    fn trips(&self, bytes: &[u8]) -> bool {
        let mut wire = self.trip_wire.lock().expect("not poisoned");
        let hit = wire
            .as_deref()
            .is_some_and(|wire| bytes.windows(wire.len()).any(|window| window == wire));
        if hit {
            *wire = None;
            self.tripped.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
}

impl TcpProxy {
    /// Forwards 127.0.0.1:`port` to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let shared = Arc::new(ProxyState::default());
        shared.open.store(true, Ordering::SeqCst);
        let accept = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if !shared.open.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused
                    }
                    let silent = Arc::new(AtomicBool::new(false));
                    let forward = tokio::spawn(forward(
                        inbound,
                        target.clone(),
                        Arc::clone(&shared),
                        Arc::clone(&silent),
                    ));
                    let mut connections = shared.connections.lock().expect("not poisoned");
                    connections.retain(|(connection, _)| !connection.is_finished());
                    connections.push((forward.abort_handle(), silent));
                }
            }
        });
        Self {
            port,
            shared,
            accept,
        }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.shared.cut();
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.shared.open.store(true, Ordering::SeqCst);
    }

    /// Cuts the proxy, as [`TcpProxy::cut`], when a client next sends `bytes` (at most
    /// [`MAX_TRIP_WIRE`] of them), which are not forwarded.
    pub fn cut_when_sent(&self, bytes: &[u8]) {
        assert!(
            bytes.len() <= MAX_TRIP_WIRE,
            "a trip wire of {} bytes",
            bytes.len()
        );
        *self.shared.trip_wire.lock().expect("not poisoned") = Some(bytes.to_vec());
    }

    /// From now on forwards nothing of the connections open now, either way, and keeps them
    /// open; new connections are forwarded.
    pub fn silence(&self) {
        for (_, silent) in self.shared.connections.lock().expect("not poisoned").iter() {
            silent.store(true, Ordering::SeqCst);
        }
    }

    /// How many times an armed trip wire has cut the proxy.
    pub fn tripped(&self) -> u32 {
        self.shared.tripped.load(Ordering::SeqCst)
    }
}

/// Copies bytes both ways between a client and `target` until either side closes, checking what
/// the client sends against the trip wire, and dropping what either sends once `silent`.
async fn forward(
    inbound: tokio::net::TcpStream,
    target: String,
    shared: Arc<ProxyState>,
    silent: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
        return;
    };
    let (mut from_client, mut to_client) = inbound.into_split();
    let (mut from_server, mut to_server) = outbound.into_split();
    let upstream = async {
        let mut buffer = vec![0; 64 * 1024];
        // The end of what came before, so that a trip wire split across two reads is seen.
        let mut seen = Vec::new();
        loop {
            let read = from_client.read(&mut buffer).await?;
            if read == 0 {
                return Ok(());
            }
            seen.extend_from_slice(&buffer[..read]);
            if shared.trips(&seen) {
                shared.cut();
                return Ok(());
            }
            seen.drain(..seen.len().saturating_sub(MAX_TRIP_WIRE));
            if !silent.load(Ordering::SeqCst) {
                to_server.write_all(&buffer[..read]).await?;
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = from_server.read(&mut buffer).await?;
            if read == 0 {
                return Ok::<(), std::io::Error>(());
            }
            if !silent.load(Ordering::SeqCst) {
                to_client.write_all(&buffer[..read]).await?;
            }
        }
    };
    let _: std::io::Result<()> = tokio::select! {
        result = upstream => result,
        result = downstream => result,
    };
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.cut();
        self.accept.abort();
    }
}
