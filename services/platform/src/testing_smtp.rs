//! A real SMTP server for tests, in-process on tokio (feature `test-support`).
//!
//! Tests and the bench point the notifications service at it (`smtp://127.0.0.1:<port>`),
//! so emails cross a real SMTP conversation over TCP, as they would to a relay, and the
//! test reads back what was accepted: one copy per envelope recipient. Recipients it is
//! told to refuse (by default any at `rejected.invalid`) get a permanent `550`, like a
//! relay that does not know them, so permanent failures can be tested. It can be stopped
//! (connections refused, open ones cut) and restarted on the same port, for outage tests.
//!
//! It speaks the part of RFC 5321 that lettre 0.11's pooled transport uses: EHLO/HELO,
//! MAIL/RCPT/DATA (with PIPELINING, 8BITMIME, SMTPUTF8, SIZE and ENHANCEDSTATUSCODES
//! advertised), RSET, NOOP, VRFY, QUIT, many messages per connection and many connections
//! at once. No TLS and no AUTH: the tests' URLs are plain `smtp://`. The crates on
//! crates.io that receive SMTP are either built on async-std or threads (samotop,
//! mailin-embedded) or single 0.1 releases, so this small implementation is the test
//! support's own, with its own tests against lettre as the client.
//!
//! # Layout
//! - [`SmtpSink`]: start, stop, restart; what it accepted; waiting for it.
//! - [`Refusals`]: which recipients are refused permanently.
//! - `accept_connections` / `serve_session`: one task per connection, all tracked so
//!   `stop` can end them.
//! - `Session`: the protocol state machine of one connection.
//! - `Connection`: bounded line reading and replies, flushed only before waiting for
//!   input, so a pipelined batch of commands is answered in one write.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The domain refused by default: `.invalid` can never be a real one (RFC 2606).
pub const REFUSED_DOMAIN: &str = "rejected.invalid";

/// The longest command line taken, CRLF included. RFC 5321 §4.5.3.1.4 says 512; the
/// leeway is for long SMTPUTF8 addresses and ESMTP parameters.
const MAX_COMMAND_LINE: usize = 1024;
/// The longest line of message text, CRLF included (RFC 5321 §4.5.3.1.6), plus the dot a
/// client adds for transparency.
const MAX_TEXT_LINE: usize = 1000 + 1;
/// The largest message taken (advertised as SIZE): 32 MiB, far above any email cspr sends.
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;
/// Recipients taken per message (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 1000;
/// A client silent this long is dropped (RFC 5321 §4.5.3.2.7's server timeout), so a
/// vanished peer cannot pin a session forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Pending connections the listener queues: a bench's pool opens dozens at once.
const LISTEN_BACKLOG: u32 = 1024;
/// How long [`SmtpSink::wait_for`] keeps watching once the count is reached, so a
/// duplicate sent just after shows up in what it returns.
const DUPLICATE_GRACE: Duration = Duration::from_millis(500);
/// How long [`SmtpSink::restart`] keeps trying to bind the port again (it may still be
/// held for a moment by the listener just closed).
const REBIND_PATIENCE: Duration = Duration::from_secs(10);

/// Which recipients the sink refuses with a permanent `550 5.1.1`: whole domains and
/// single addresses, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    /// Domains (the part after the last `@`) refused, lowercase.
    domains: Vec<String>,
    /// Whole addresses refused, lowercase.
    addresses: Vec<String>,
}

impl Refusals {
    /// Refuses nobody.
    pub fn nobody() -> Self {
        Self {
            domains: Vec::new(),
            addresses: Vec::new(),
        }
    }

    /// Also refuses every address at `domain`.
    pub fn domain(mut self, domain: &str) -> Self {
        self.domains.push(domain.to_lowercase());
        self
    }

    /// Also refuses `address` itself.
    pub fn address(mut self, address: &str) -> Self {
        self.addresses.push(address.to_lowercase());
        self
    }

    /// Whether a RCPT for `address` is refused.
    pub fn refuses(&self, address: &str) -> bool {
        let address = address.to_lowercase();
        let domain = address.rsplit_once('@').map(|(_, domain)| domain);
        self.addresses.contains(&address)
            || domain.is_some_and(|domain| self.domains.iter().any(|refused| refused == domain))
    }
}

impl Default for Refusals {
    /// Refuses any recipient at [`REFUSED_DOMAIN`].
    fn default() -> Self {
        Self::nobody().domain(REFUSED_DOMAIN)
    }
}

/// One message as accepted for one envelope recipient.
#[derive(Debug, Clone)]
struct Accepted {
    /// The RCPT address it was accepted for.
    recipient: String,
    /// The message as sent, dot-unstuffed (shared by its recipients' copies).
    content: Bytes,
    /// When it was accepted (just before the reply to the end of DATA).
    at: std::time::Instant,
}

/// What every session of one sink shares.
#[derive(Debug)]
struct Shared {
    /// Who is refused.
    refusals: Refusals,
    /// How long it takes to accept each message (before its reply to the end of DATA).
    per_message: Duration,
    /// Messages whose text has arrived and which are being accepted now.
    accepting: std::sync::atomic::AtomicUsize,
    /// Everything accepted, in order; a watch so [`SmtpSink::wait_for`] wakes on arrival
    /// instead of polling.
    accepted: watch::Sender<Vec<Accepted>>,
}

/// The listener and sessions of a started sink.
#[derive(Debug)]
struct Running {
    /// Ends the accept loop and every session.
    shutdown: CancellationToken,
    /// The accept loop and the sessions, awaited by `stop`.
    tasks: TaskTracker,
}

/// A real SMTP server run by a test, on `127.0.0.1`, keeping what it accepts in memory.
#[derive(Debug)]
pub struct SmtpSink {
    /// Where it listens; kept across restarts so a client's URL stays right.
    port: u16,
    /// Refusals and accepted messages, shared with the sessions.
    shared: Arc<Shared>,
    /// The running server; `None` while stopped.
    running: Option<Running>,
}

impl SmtpSink {
    /// Starts a sink on a free port, refusing recipients at [`REFUSED_DOMAIN`].
    pub async fn start() -> Self {
        Self::start_with(Refusals::default()).await
    }

    /// Starts a sink on a free port, refusing `refusals`.
    pub async fn start_with(refusals: Refusals) -> Self {
        Self::start_configured(refusals, Duration::ZERO)
    }

    /// Starts a slow sink, as a busy relay is: it takes `per_message` to accept each message
    /// (sessions in parallel), so a burst of emails is still being sent a while later, for
    /// a test that makes something fail in the middle of it.
    pub async fn start_slow(per_message: Duration) -> Self {
        Self::start_configured(Refusals::default(), per_message)
    }

    fn start_configured(refusals: Refusals, per_message: Duration) -> Self {
        let listener = listen(0).expect("the SMTP sink binds 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("the SMTP sink's address")
            .port();
        let shared = Arc::new(Shared {
            refusals,
            per_message,
            accepting: std::sync::atomic::AtomicUsize::new(0),
            accepted: watch::Sender::new(Vec::new()),
        });
        let running = serve(listener, shared.clone());
        Self {
            port,
            shared,
            running: Some(running),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Listens again on the same port (after [`SmtpSink::stop`]; a running sink is stopped
    /// first). What was accepted before is kept.
    pub async fn restart(&mut self) {
        self.stop().await;
        let deadline = tokio::time::Instant::now() + REBIND_PATIENCE;
        let listener = loop {
            match listen(self.port) {
                Ok(listener) => break listener,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(port = self.port, %error, "smtp sink: port not free yet");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!(
                    "the SMTP sink cannot listen on {} again: {error}",
                    self.port
                ),
            }
        };
        self.running = Some(serve(listener, self.shared.clone()));
    }

    /// Stops listening and cuts every open connection: connections are refused until
    /// [`SmtpSink::restart`]. Returns once all sessions have ended.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown.cancel();
            running.tasks.close();
            running.tasks.wait().await;
        }
    }

    /// How many messages a slow sink ([`SmtpSink::start_slow`]) is accepting at this moment:
    /// their text has arrived, the client waits for the reply. A test that fails something
    /// while this is above zero knows sends are in flight.
    pub fn accepting(&self) -> usize {
        self.shared
            .accepting
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every accepted message: (envelope recipient, raw message), sorted.
    pub fn messages(&self) -> Vec<(String, String)> {
        let mut messages: Vec<(String, String)> = self
            .shared
            .accepted
            .borrow()
            .iter()
            .map(|accepted| {
                (
                    accepted.recipient.clone(),
                    String::from_utf8_lossy(&accepted.content).into_owned(),
                )
            })
            .collect();
        messages.sort();
        messages
    }

    /// Every accepted message in the order it was accepted, with when: (when, raw message),
    /// for a test that must tell what arrived just before something happened.
    pub fn arrivals(&self) -> Vec<(std::time::Instant, String)> {
        self.shared
            .accepted
            .borrow()
            .iter()
            .map(|accepted| {
                (
                    accepted.at,
                    String::from_utf8_lossy(&accepted.content).into_owned(),
                )
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived (or `timeout`), then a moment longer to
    /// catch any duplicate; returns them all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<(String, String)> {
        let mut accepted = self.shared.accepted.subscribe();
        // Timing out is an answer too: the caller compares what arrived with what it expected.
        let _ = tokio::time::timeout(timeout, accepted.wait_for(|all| all.len() >= count)).await;
        tokio::time::sleep(DUPLICATE_GRACE).await;
        self.messages()
    }
}

impl Drop for SmtpSink {
    /// Ends the server's tasks with the sink (they also end with the test's runtime).
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown.cancel();
        }
    }
}

/// A listener on `127.0.0.1:<port>`, with SO_REUSEADDR so a restart can take the port
/// back while the old connections are in TIME_WAIT.
fn listen(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(LISTEN_BACKLOG)
}

/// Runs the accept loop on `listener` until shut down.
fn serve(listener: TcpListener, shared: Arc<Shared>) -> Running {
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(accept_connections(
        listener,
        shared,
        shutdown.clone(),
        tasks.clone(),
    ));
    Running { shutdown, tasks }
}

/// Accepts connections, one session task each, until `shutdown`; the listener closes when
/// this returns.
async fn accept_connections(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                tasks.spawn(serve_session(stream, shared.clone(), shutdown.clone()));
            }
            Err(error) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "smtp sink: accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// One connection's session, cut (socket dropped) on `shutdown`.
async fn serve_session(stream: TcpStream, shared: Arc<Shared>, shutdown: CancellationToken) {
    // Replies are small and each one is awaited by the client: no Nagle delay.
    let _ = stream.set_nodelay(true);
    let mut session = Session::new(Connection::new(stream), shared);
    tokio::select! {
        () = shutdown.cancelled() => {}
        outcome = session.run() => {
            if let Err(error) = outcome {
                tracing::debug!(%error, "smtp sink: session ended");
            }
        }
    }
}

/// The two halves of a connection, buffered.
struct Connection {
    /// Commands and message text from the client.
    reader: BufReader<OwnedReadHalf>,
    /// Replies, flushed only before waiting for more input (see [`Connection::read_line`]).
    writer: BufWriter<OwnedWriteHalf>,
}

/// One line read by [`Connection::read_line`].
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The line, through its LF, in the caller's buffer.
    Complete,
    /// Longer than the limit: the caller's buffer holds its start, the rest was discarded.
    TooLong,
    /// The client closed the connection (a partial last line is dropped).
    Closed,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        let (reader, writer) = stream.into_split();
        Self {
            reader: BufReader::new(reader),
            writer: BufWriter::new(writer),
        }
    }

    /// Reads one line (through its LF) into `line`, keeping at most `limit` bytes of it.
    ///
    /// Pending replies are flushed first unless a whole line is already buffered: a
    /// pipelining client sends a batch and then waits for all its replies, so they go out
    /// together once the batch is consumed, and a client waiting for a reply always gets it.
    async fn read_line(&mut self, line: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
        line.clear();
        if !self.reader.buffer().contains(&b'\n') {
            self.writer.flush().await?;
        }
        let mut length = 0;
        loop {
            let available = match tokio::time::timeout(IDLE_TIMEOUT, self.reader.fill_buf()).await {
                Ok(available) => available?,
                Err(_elapsed) => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "client idle"));
                }
            };
            if available.is_empty() {
                return Ok(Line::Closed);
            }
            let end = available.iter().position(|&byte| byte == b'\n');
            let chunk = end.map_or(available, |end| &available[..=end]);
            let room = limit.saturating_sub(line.len());
            line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            length += chunk.len();
            let consumed = chunk.len();
            self.reader.consume(consumed);
            if end.is_some() {
                return Ok(if length <= limit {
                    Line::Complete
                } else {
                    Line::TooLong
                });
            }
        }
    }

    /// Queues one reply (a complete line or lines, CRLF-terminated).
    async fn reply(&mut self, reply: &str) -> io::Result<()> {
        self.writer.write_all(reply.as_bytes()).await
    }
}

/// The mail transaction in progress (RFC 5321 §3.3).
#[derive(Debug, Default)]
struct Transaction {
    /// The reverse path once MAIL was accepted (empty for `<>`).
    sender: Option<String>,
    /// Accepted recipients.
    recipients: Vec<String>,
}

/// The protocol state of one connection.
struct Session {
    /// The client.
    connection: Connection,
    /// Refusals and the store.
    shared: Arc<Shared>,
    /// Whether EHLO or HELO came: MAIL needs it.
    greeted: bool,
    /// The transaction in progress.
    transaction: Transaction,
}

/// What a command asks the session to do next.
enum Next {
    /// Read the next command.
    Command,
    /// Read message text (DATA was accepted).
    Data,
    /// Close the connection (QUIT).
    Quit,
}

impl Session {
    fn new(connection: Connection, shared: Arc<Shared>) -> Self {
        Self {
            connection,
            shared,
            greeted: false,
            transaction: Transaction::default(),
        }
    }

    /// Greets, then answers commands until QUIT or the client goes.
    async fn run(&mut self) -> io::Result<()> {
        self.connection
            .reply("220 127.0.0.1 ESMTP cspr test sink\r\n")
            .await?;
        let mut line = Vec::with_capacity(MAX_COMMAND_LINE);
        loop {
            match self
                .connection
                .read_line(&mut line, MAX_COMMAND_LINE)
                .await?
            {
                Line::Closed => return Ok(()),
                Line::TooLong => {
                    self.connection.reply("500 5.5.2 Line too long\r\n").await?;
                }
                Line::Complete => match self.command(&line).await? {
                    Next::Command => {}
                    Next::Data => {
                        if !self.data().await? {
                            return Ok(());
                        }
                    }
                    Next::Quit => {
                        self.connection.writer.flush().await?;
                        return Ok(());
                    }
                },
            }
        }
    }

    /// Answers one command line.
    async fn command(&mut self, line: &[u8]) -> io::Result<Next> {
        let Ok(text) = std::str::from_utf8(strip_line_end(line)) else {
            self.connection
                .reply("500 5.5.2 Syntax error: not UTF-8\r\n")
                .await?;
            return Ok(Next::Command);
        };
        let (verb, argument) = text.split_once(' ').unwrap_or((text, ""));
        let argument = argument.trim();
        let reply = match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if argument.is_empty() => {
                "501 5.5.4 Syntax: EHLO domain\r\n".to_string()
            }
            "EHLO" => {
                self.greeted = true;
                self.transaction = Transaction::default();
                format!(
                    "250-127.0.0.1 greets {argument}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250 ENHANCEDSTATUSCODES\r\n"
                )
            }
            "HELO" => {
                self.greeted = true;
                self.transaction = Transaction::default();
                format!("250 127.0.0.1 greets {argument}\r\n")
            }
            "MAIL" => self.mail(argument),
            "RCPT" => self.rcpt(argument),
            "DATA" if !argument.is_empty() => "501 5.5.4 Syntax: DATA\r\n".to_string(),
            "DATA" if self.transaction.sender.is_none() => {
                "503 5.5.1 Error: need MAIL command\r\n".to_string()
            }
            "DATA" if self.transaction.recipients.is_empty() => {
                "554 5.5.1 Error: no valid recipients\r\n".to_string()
            }
            "DATA" => {
                self.connection
                    .reply("354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                return Ok(Next::Data);
            }
            "RSET" => {
                self.transaction = Transaction::default();
                "250 2.0.0 OK\r\n".to_string()
            }
            "NOOP" => "250 2.0.0 OK\r\n".to_string(),
            "VRFY" => "252 2.1.5 Cannot VRFY user, but will accept message\r\n".to_string(),
            "QUIT" => {
                self.connection.reply("221 2.0.0 Bye\r\n").await?;
                return Ok(Next::Quit);
            }
            "STARTTLS" | "AUTH" | "EXPN" | "HELP" | "BDAT" => {
                "502 5.5.1 Command not implemented\r\n".to_string()
            }
            _ => "500 5.5.2 Command not recognized\r\n".to_string(),
        };
        self.connection.reply(&reply).await?;
        Ok(Next::Command)
    }

    /// `MAIL FROM:<path> [parameters]`.
    fn mail(&mut self, argument: &str) -> String {
        if !self.greeted {
            return "503 5.5.1 Error: send EHLO first\r\n".to_string();
        }
        if self.transaction.sender.is_some() {
            return "503 5.5.1 Error: nested MAIL command\r\n".to_string();
        }
        let Some((sender, parameters)) = parse_path(argument, "FROM:") else {
            return "501 5.5.4 Syntax: MAIL FROM:<address>\r\n".to_string();
        };
        for parameter in parameters.split_ascii_whitespace() {
            let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            match key.to_ascii_uppercase().as_str() {
                "BODY"
                    if value.eq_ignore_ascii_case("7BIT")
                        || value.eq_ignore_ascii_case("8BITMIME") => {}
                "SMTPUTF8" if value.is_empty() => {}
                "SIZE" => match value.parse::<usize>() {
                    Ok(size) if size <= MAX_MESSAGE_BYTES => {}
                    Ok(_) => {
                        return "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
                            .to_string();
                    }
                    Err(_) => return "501 5.5.4 Syntax: SIZE=<number>\r\n".to_string(),
                },
                _ => return format!("555 5.5.4 Unsupported MAIL parameter {parameter}\r\n"),
            }
        }
        self.transaction.sender = Some(sender.to_string());
        "250 2.1.0 OK\r\n".to_string()
    }

    /// `RCPT TO:<path>`: refused permanently if [`Refusals`] says so.
    fn rcpt(&mut self, argument: &str) -> String {
        if self.transaction.sender.is_none() {
            return "503 5.5.1 Error: need MAIL command\r\n".to_string();
        }
        let Some((recipient, parameters)) = parse_path(argument, "TO:") else {
            return "501 5.5.4 Syntax: RCPT TO:<address>\r\n".to_string();
        };
        if recipient.is_empty() {
            return "501 5.1.3 Error: empty recipient\r\n".to_string();
        }
        if !parameters.trim().is_empty() {
            return "555 5.5.4 RCPT parameters not supported\r\n".to_string();
        }
        if self.transaction.recipients.len() >= MAX_RECIPIENTS {
            return "452 4.5.3 Too many recipients\r\n".to_string();
        }
        if self.shared.refusals.refuses(recipient) {
            return "550 5.1.1 No such mailbox\r\n".to_string();
        }
        self.transaction.recipients.push(recipient.to_string());
        "250 2.1.5 OK\r\n".to_string()
    }

    /// Reads message text up to the lone `.` line, undoing dot-stuffing, then stores one
    /// copy per recipient and ends the transaction. Returns false if the client went away
    /// mid-message (nothing is stored then).
    async fn data(&mut self) -> io::Result<bool> {
        let mut content = Vec::new();
        let mut line = Vec::with_capacity(MAX_TEXT_LINE);
        let mut line_too_long = false;
        let mut too_big = false;
        loop {
            match self.connection.read_line(&mut line, MAX_TEXT_LINE).await? {
                Line::Closed => return Ok(false),
                Line::TooLong => line_too_long = true,
                Line::Complete if strip_line_end(&line) == b"." => break,
                Line::Complete => {
                    let text = line.strip_prefix(b".").unwrap_or(&line);
                    if content.len() + text.len() > MAX_MESSAGE_BYTES {
                        too_big = true;
                    } else {
                        content.extend_from_slice(text);
                    }
                }
            }
        }
        let transaction = std::mem::take(&mut self.transaction);
        let reply = if line_too_long {
            "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)\r\n"
        } else if too_big {
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
        } else {
            if !self.shared.per_message.is_zero() {
                use std::sync::atomic::Ordering::SeqCst;
                self.shared.accepting.fetch_add(1, SeqCst);
                tokio::time::sleep(self.shared.per_message).await;
                self.shared.accepting.fetch_sub(1, SeqCst);
            }
            let content = Bytes::from(content);
            self.shared.accepted.send_modify(|accepted| {
                accepted.extend(
                    transaction
                        .recipients
                        .into_iter()
                        .map(|recipient| Accepted {
                            recipient,
                            content: content.clone(),
                            at: std::time::Instant::now(),
                        }),
                );
            });
            "250 2.0.0 OK: message accepted\r\n"
        };
        self.connection.reply(reply).await?;
        Ok(true)
    }
}

/// The line without its CRLF (or bare LF).
fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits `FROM:<path> rest` (keyword matched case-insensitively, a space after the colon
/// tolerated) into the address inside the angle brackets and the parameters after them.
fn parse_path<'a>(argument: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = argument[keyword.len()..].trim_start().strip_prefix('<')?;
    let (address, parameters) = path.split_once('>')?;
    Some((address, parameters))
}

/// The header value `name` of a raw message (first occurrence, unfolded), e.g. the
/// Message-ID that tells one email from a copy of another.
pub fn mail_header(raw: &str, name: &str) -> Option<String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut lines = raw.lines().peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut value = line[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with(' ') || next.starts_with('\t') {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use lettre::message::header::{ContentTransferEncoding, ContentType};
    use lettre::message::{Body, Mailbox};
    use lettre::transport::smtp::PoolConfig;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    use tokio::io::AsyncReadExt;

    use super::*;

    fn transport(sink: &SmtpSink, pool: u32) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())
            .expect("url")
            .timeout(Some(Duration::from_secs(10)))
            .pool_config(PoolConfig::new().max_size(pool))
            .build()
    }

    /// A plain-text message sent as 8-bit text (no quoted-printable), so what the sink
    /// stores can be compared with `body` byte for byte.
    fn message(to: &str, id: &str, body: &str) -> Message {
        let from: Mailbox = "Sender <sender@example.org>".parse().expect("from");
        Message::builder()
            .from(from)
            .to(to.parse().expect("to"))
            .subject("A test")
            .message_id(Some(format!("<{id}@test>")))
            .header(ContentType::TEXT_PLAIN)
            .body(
                Body::new_with_encoding(body.to_string(), ContentTransferEncoding::EightBit)
                    .expect("8-bit body"),
            )
            .expect("message")
    }

    fn message_id(raw: &str) -> Option<&str> {
        raw.lines()
            .find_map(|line| line.strip_prefix("Message-ID: "))
    }

    /// A raw client: writes `input` and reads replies until the server has answered
    /// `replies` times (multi-line replies count once).
    struct RawClient {
        stream: BufReader<TcpStream>,
    }

    impl RawClient {
        async fn connect(sink: &SmtpSink) -> Self {
            let stream = TcpStream::connect(("127.0.0.1", sink.port()))
                .await
                .expect("connect");
            let mut client = Self {
                stream: BufReader::new(stream),
            };
            assert!(client.replies(1).await[0].starts_with("220 "));
            client
        }

        async fn send(&mut self, input: &[u8], replies: usize) -> Vec<String> {
            self.stream.get_mut().write_all(input).await.expect("write");
            self.replies(replies).await
        }

        async fn replies(&mut self, count: usize) -> Vec<String> {
            let mut replies = Vec::new();
            let mut reply = String::new();
            while replies.len() < count {
                let mut line = String::new();
                let read =
                    tokio::time::timeout(Duration::from_secs(10), self.stream.read_line(&mut line))
                        .await
                        .expect("a reply in time")
                        .expect("read");
                assert!(
                    read > 0,
                    "the server closed the connection; got {replies:?}"
                );
                reply.push_str(&line);
                if line.as_bytes().get(3) == Some(&b' ') {
                    replies.push(std::mem::take(&mut reply));
                }
            }
            replies
        }
    }

    #[tokio::test]
    async fn concurrent_pooled_lettre_clients_deliver_every_message_once() {
        let sink = SmtpSink::start().await;
        let transport = Arc::new(transport(&sink, 8));
        let mut senders = Vec::new();
        for worker in 0..16 {
            let transport = transport.clone();
            senders.push(tokio::spawn(async move {
                for n in 0..25 {
                    let id = format!("{worker}-{n}");
                    transport
                        .send(message(&format!("r{id}@example.org"), &id, "Hello.\n"))
                        .await
                        .expect("sent");
                }
            }));
        }
        for sender in senders {
            sender.await.expect("sender");
        }

        let messages = sink.wait_for(400, Duration::from_secs(10)).await;

        assert_eq!(messages.len(), 400, "one copy each, no duplicates");
        let delivered: HashSet<(String, String)> = messages
            .iter()
            .map(|(recipient, raw)| {
                let id = message_id(raw).expect("a Message-ID");
                (recipient.clone(), id.to_string())
            })
            .collect();
        let sent: HashSet<(String, String)> = (0..16)
            .flat_map(|worker| {
                (0..25).map(move |n| {
                    (
                        format!("r{worker}-{n}@example.org"),
                        format!("<{worker}-{n}@test>"),
                    )
                })
            })
            .collect();
        assert_eq!(delivered, sent);
    }

    #[tokio::test]
    async fn dots_and_8bit_text_arrive_as_written() {
        let sink = SmtpSink::start().await;
        let body = ".leading dot\n..two dots\n.\nZoë’s café – 8-bit text\n";

        transport(&sink, 1)
            .send(message("zoë@exämple.org", "utf8", body))
            .await
            .expect("sent");

        let messages = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(messages.len(), 1);
        let (recipient, raw) = &messages[0];
        assert_eq!(recipient, "zoë@exämple.org");
        let (_headers, text) = raw.split_once("\r\n\r\n").expect("a body");
        // lettre ends the message with a CRLF of its own before the terminating dot.
        assert_eq!(text.replace("\r\n", "\n"), format!("{body}\n"));
    }

    #[tokio::test]
    async fn refused_recipients_fail_permanently_and_others_are_kept() {
        let sink = SmtpSink::start_with(Refusals::default().address("gone@example.org")).await;
        let lettre = transport(&sink, 2);

        for refused in ["someone@Rejected.Invalid", "Gone@example.org"] {
            let error = lettre
                .send(message(refused, "refused", "No.\n"))
                .await
                .expect_err("refused");
            assert!(error.is_permanent(), "{error}");
            assert_eq!(
                error.status().map(|code| code.to_string()).as_deref(),
                Some("550"),
                "{error}"
            );
        }
        let mut client = RawClient::connect(&sink).await;
        let replies = client
            .send(
                b"EHLO test\r\nMAIL FROM:<>\r\nRCPT TO:<kept@example.org>\r\nRCPT TO:<x@rejected.invalid>\r\nDATA\r\n",
                5,
            )
            .await;
        assert!(replies[0].contains("250-PIPELINING"), "{replies:?}");
        assert!(replies[3].starts_with("550 5.1.1"), "{replies:?}");
        assert!(replies[4].starts_with("354"), "{replies:?}");
        let replies = client
            .send(b"Subject: kept\r\n\r\nhi\r\n.\r\nQUIT\r\n", 2)
            .await;
        assert!(replies[0].starts_with("250 "), "{replies:?}");
        assert!(replies[1].starts_with("221 "), "{replies:?}");

        let messages = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(
            messages,
            vec![(
                "kept@example.org".to_string(),
                "Subject: kept\r\n\r\nhi\r\n".to_string()
            )]
        );
    }

    #[tokio::test]
    async fn one_connection_carries_many_messages_with_rset_between() {
        let sink = SmtpSink::start().await;
        let mut client = RawClient::connect(&sink).await;
        client.send(b"HELO test\r\n", 1).await;

        for n in 0..3 {
            let transaction = format!(
                "MAIL FROM:<s@example.org> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<a{n}@example.org>\r\nRCPT TO:<b{n}@example.org>\r\nDATA\r\n"
            );
            let replies = client.send(transaction.as_bytes(), 4).await;
            assert!(
                replies
                    .iter()
                    .take(3)
                    .all(|reply| reply.starts_with("250 ")),
                "{replies:?}"
            );
            let replies = client
                .send(format!("n: {n}\r\n\r\n..x\r\n.\r\n").as_bytes(), 1)
                .await;
            assert!(replies[0].starts_with("250 "), "{replies:?}");
        }
        let replies = client
            .send(
                b"MAIL FROM:<s@example.org>\r\nRCPT TO:<dropped@example.org>\r\nRSET\r\nDATA\r\n",
                4,
            )
            .await;
        assert!(replies[2].starts_with("250 "), "{replies:?}");
        assert!(replies[3].starts_with("503 "), "{replies:?}");

        let messages = sink.wait_for(6, Duration::from_secs(10)).await;
        assert_eq!(messages.len(), 6, "{messages:?}");
        assert!(messages.contains(&(
            "b2@example.org".to_string(),
            "n: 2\r\n\r\n.x\r\n".to_string()
        )));
    }

    #[tokio::test]
    async fn protocol_errors_are_answered_and_the_session_goes_on() {
        let sink = SmtpSink::start().await;
        let mut client = RawClient::connect(&sink).await;

        let too_long = format!("NOOP {}\r\n", "x".repeat(MAX_COMMAND_LINE));
        let replies = client
            .send(
                format!("MAIL FROM:<a@example.org>\r\n{too_long}EHLO test\r\nRCPT TO:<b@example.org>\r\nMAIL FROM:a@example.org\r\nMAIL FROM:<a@example.org> FOO=1\r\nBOGUS\r\n").as_bytes(),
                7,
            )
            .await;
        let codes: Vec<&str> = replies.iter().map(|reply| &reply[..3]).collect();
        assert_eq!(
            codes,
            ["503", "500", "250", "503", "501", "555", "500"],
            "{replies:?}"
        );

        let replies = client
            .send(
                b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
                3,
            )
            .await;
        assert!(replies[2].starts_with("354"), "{replies:?}");
        let long_text_line = format!("{}\r\n.\r\n", "y".repeat(MAX_TEXT_LINE));
        let replies = client.send(long_text_line.as_bytes(), 1).await;
        assert!(replies[0].starts_with("500 5.5.2"), "{replies:?}");

        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn stop_refuses_connections_and_restart_takes_the_same_port() {
        let mut sink = SmtpSink::start().await;
        let port = sink.port();
        let lettre = transport(&sink, 2);
        lettre
            .send(message("before@example.org", "before", "1\n"))
            .await
            .expect("sent");
        let mut idle = RawClient::connect(&sink).await;

        sink.stop().await;

        let mut rest = Vec::new();
        // Cut means end of stream or a reset, in time, with nothing more said.
        let _closed_or_reset =
            tokio::time::timeout(Duration::from_secs(5), idle.stream.read_to_end(&mut rest))
                .await
                .expect("the open connection is cut");
        assert!(rest.is_empty(), "{rest:?}");
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert!(
            lettre
                .send(message("during@example.org", "during", "2\n"))
                .await
                .is_err()
        );

        sink.restart().await;

        assert_eq!(sink.port(), port);
        lettre
            .send(message("after@example.org", "after", "3\n"))
            .await
            .expect("sent after the restart");
        let recipients: Vec<String> = sink
            .wait_for(2, Duration::from_secs(10))
            .await
            .into_iter()
            .map(|(recipient, _)| recipient)
            .collect();
        assert_eq!(recipients, ["after@example.org", "before@example.org"]);
    }

    #[tokio::test]
    async fn wait_for_returns_what_came_when_the_count_is_not_reached() {
        let sink = SmtpSink::start().await;
        transport(&sink, 1)
            .send(message("only@example.org", "only", "1\n"))
            .await
            .expect("sent");

        let started = tokio::time::Instant::now();
        let messages = sink.wait_for(2, Duration::from_millis(300)).await;

        assert_eq!(messages.len(), 1);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn refusals_match_domains_and_addresses_case_insensitively() {
        let refusals = Refusals::default().address("One@Example.org");

        assert!(refusals.refuses("x@REJECTED.invalid"));
        assert!(refusals.refuses("one@example.ORG"));
        assert!(!refusals.refuses("two@example.org"));
        assert!(!refusals.refuses("x@notrejected.invalid"));
        assert!(!Refusals::nobody().refuses("x@rejected.invalid"));
    }
}
