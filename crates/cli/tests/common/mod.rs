//! Helpers shared by the end-to-end tests: run the built `mercator` binary
//! against a data dir of the test's own.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Returns a `mercator` command on `data_dir`, ignoring any `MERCATOR_DATA_DIR` of the caller.
pub fn mercator(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercator"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("MERCATOR_DATA_DIR");
    command
}

/// Runs `command` and fails the test with its output unless it succeeds.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "command failed: {}\nstdout: {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}

/// A `mercator serve` child process, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Spawns `command` (a `mercator serve` with `--port 0`) and waits for
    /// the address it prints on its first line.
    pub fn start(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line of serve: {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status code and JSON body of one response.
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Sends one HTTP/1.1 request and reads the whole response.
pub fn request(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let auth = key
        .map(|key| format!("Authorization: Bearer {key}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_str(body)
        .unwrap_or_else(|err| panic!("{method} {path}: body is not JSON ({err}): {body:?}"));
    Reply { status, body }
}

/// Sends a GET request.
pub fn get(addr: SocketAddr, path: &str, key: Option<&str>) -> Reply {
    request(addr, "GET", path, key, "")
}
