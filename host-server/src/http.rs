//! The HTTP/1.1 connection loop: one single-threaded tokio runtime per thread
//! ("lane"), connections handed to the lanes in turn. Each connection reads
//! bytes, frames requests with [`crate::wire`], answers them with
//! [`crate::api::handle`] in order, and writes each answer in one write.
//!
//! A connection's requests run start to finish on one thread: no work stealing
//! and no cross-thread wake-ups between reading a request and writing its answer.
//! A request that blocks (password hashing, store writes) runs off the lane
//! (hashing threads, `spawn_blocking`), so one slow request does not hold up
//! the others on its lane.
//!
//! Time limits ([`crate::Config::request_timeout`], 30 s by default): a request
//! (head and body) must arrive within it of the moment the server starts waiting
//! for it, an idle keep-alive connection is closed after as long, and the client
//! must take an answer within it.

use crate::api::{self, AppState, MAX_BODY};
use crate::wire::{self, Frame, Framed};
use crate::{Error, SHUTDOWN_GRACE};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

/// After an answer that closes the connection, how long and how much of what
/// the client still sends is read and dropped, so that closing with unread
/// bytes (which makes the kernel send a reset) does not destroy the answer
/// before the client reads it.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;

type Handover = (std::net::TcpStream, SocketAddr);

/// The lanes' inboxes and their "finished" signals.
pub(crate) struct Lanes {
    inboxes: Vec<mpsc::UnboundedSender<Handover>>,
    finished: Vec<oneshot::Receiver<()>>,
    next: usize,
}

impl Lanes {
    /// Starts `threads` lanes (at least one) answering with `state`, each
    /// connection under `timeout` (see the module's doc).
    pub(crate) fn start(
        state: &AppState,
        threads: usize,
        timeout: Duration,
    ) -> Result<Lanes, Error> {
        let mut lanes = Lanes {
            inboxes: Vec::new(),
            finished: Vec::new(),
            next: 0,
        };
        for i in 0..threads.max(1) {
            let (inbox, rx) = mpsc::unbounded_channel();
            let (done, finished) = oneshot::channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Config(format!("tokio runtime: {e}")))?;
            let state = state.clone();
            std::thread::Builder::new()
                .name(format!("http-{i}"))
                .spawn(move || {
                    runtime.block_on(lane(state, rx, timeout));
                    let _ = done.send(());
                })
                .map_err(|e| Error::Config(format!("starting HTTP thread: {e}")))?;
            lanes.inboxes.push(inbox);
            lanes.finished.push(finished);
        }
        Ok(lanes)
    }

    /// Gives an accepted connection to the next lane.
    pub(crate) fn hand_over(&mut self, stream: TcpStream, peer: SocketAddr) {
        // Answers are written whole; never hold one back for coalescing.
        let _ = stream.set_nodelay(true);
        let Ok(stream) = stream.into_std() else {
            return;
        };
        self.next = self.next.wrapping_add(1);
        if let Some(inbox) = self.inboxes.get(self.next % self.inboxes.len()) {
            // A lane only stops when its inbox closes, so this cannot fail.
            let _ = inbox.send((stream, peer));
        }
    }

    /// Closes the inboxes and waits until every lane has let its requests in flight
    /// finish (each waits at most [`SHUTDOWN_GRACE`]).
    pub(crate) async fn finish(self) {
        drop(self.inboxes);
        for finished in self.finished {
            let _ = finished.await;
        }
    }
}

/// Serves the connections that arrive in `inbox` until it closes, then stops
/// them: idle ones at once, busy ones after their answer.
async fn lane(state: AppState, mut inbox: mpsc::UnboundedReceiver<Handover>, timeout: Duration) {
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            handed = inbox.recv() => {
                let Some((stream, peer)) = handed else { break };
                let Ok(stream) = TcpStream::from_std(stream) else {
                    continue;
                };
                connections.spawn(connection(
                    state.clone(),
                    stream,
                    peer,
                    stopped.clone(),
                    timeout,
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still running after the shutdown grace period; dropping them");
    }
}

/// A deadline that restarts cheaply: restarting only notes the time, and the
/// timer is re-armed when it fires early (at most once per `timeout`), not once
/// per request.
struct Deadline {
    timeout: Duration,
    started: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Deadline {
    fn new(timeout: Duration) -> Deadline {
        let started = Instant::now();
        Deadline {
            timeout,
            started,
            timer: Box::pin(tokio::time::sleep_until(started + timeout)),
        }
    }

    fn restart(&mut self) {
        self.started = Instant::now();
    }

    /// Resolves once the timeout has passed since the last restart.
    async fn passed(&mut self) {
        loop {
            self.timer.as_mut().await;
            let due = self.started + self.timeout;
            if Instant::now() >= due {
                return;
            }
            self.timer.as_mut().reset(due);
        }
    }
}

/// The `Date` field, formatted once a second.
struct Date {
    second: u64,
    text: String,
}

impl Date {
    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

/// What the bytes read so far came to.
enum Step {
    /// An answer to write; the request took `len` bytes of the input.
    Answer {
        response: api::Response,
        len: usize,
        head_only: bool,
        close: bool,
        http10: bool,
    },
    /// More bytes are needed; send `100 Continue` first if asked.
    NeedMore { send_continue: bool },
}

/// Serves one connection until the client closes it, asks to, sends something
/// that cannot be framed, runs out of time, or the lane stops.
async fn connection(
    state: AppState,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut stopped: watch::Receiver<bool>,
    timeout: Duration,
) {
    let client = Some(peer.ip());
    let mut input: Vec<u8> = Vec::with_capacity(4096);
    let mut output: Vec<u8> = Vec::with_capacity(1024);
    let mut date = Date {
        second: 0,
        text: String::new(),
    };
    let mut deadline = Deadline::new(timeout);
    let mut continued = false;
    loop {
        let step = match wire::next(&input, MAX_BODY) {
            Ok(Frame::Complete { request, len }) => Step::Answer {
                response: api::handle(&state, &request, client).await,
                len,
                head_only: request.method == "HEAD",
                close: !request.keep_alive || *stopped.borrow(),
                http10: request.http10,
            },
            Ok(Frame::Incomplete { expects_continue }) => Step::NeedMore {
                send_continue: expects_continue && !continued,
            },
            Err(refused) => {
                tracing::debug!(%peer, error = %refused, "request refused before routing");
                Step::Answer {
                    response: refused.response(),
                    len: 0,
                    head_only: false,
                    close: true,
                    http10: false,
                }
            }
        };
        match step {
            Step::Answer {
                response,
                len,
                head_only,
                close,
                http10,
            } => {
                output.clear();
                let how = Framed {
                    date: date.now(),
                    head_only,
                    close,
                    http10,
                };
                wire::encode(
                    &mut output,
                    response.status,
                    &response.fields,
                    &response.body,
                    how,
                );
                deadline.restart();
                if !write(&mut stream, &output, &mut deadline).await {
                    return;
                }
                if close {
                    linger(stream).await;
                    return;
                }
                input.drain(..len);
                continued = false;
                deadline.restart();
                continue;
            }
            Step::NeedMore { send_continue } => {
                if send_continue {
                    continued = true;
                    if !write(&mut stream, wire::CONTINUE, &mut deadline).await {
                        return;
                    }
                }
            }
        }
        if input.capacity() - input.len() < 1024 {
            input.reserve(4096);
        }
        let idle = input.is_empty();
        let read = tokio::select! {
            biased;
            read = stream.read_buf(&mut input) => read,
            _ = stopped.changed(), if idle => return,
            () = deadline.passed() => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Writes all of `bytes` before the deadline; false if the connection is gone.
async fn write(stream: &mut TcpStream, bytes: &[u8], deadline: &mut Deadline) -> bool {
    tokio::select! {
        biased;
        written = stream.write_all(bytes) => written.is_ok(),
        () = deadline.passed() => false,
    }
}

/// Ends the connection after a final answer: no more writes, and what the
/// client still sends is read and dropped for a while (see [`LINGER`]).
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = vec![0u8; 16 * 1024];
    let mut dropped = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while dropped < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    })
    .await;
}
