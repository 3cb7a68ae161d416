//! Gzip inflation on a thread of its own, so a replay's reading thread (in the single-thread
//! path, the one thread that runs the whole engine) does not also pay for decompression
//! (11 % of the main job's samples when it did).
//!
//! [`Inflater::spawn`] starts a thread that reads the file through flate2's
//! `MultiGzDecoder` into chunks of [`CHUNK`] bytes and hands them over a bounded channel
//! ([`CHUNKS`] in flight); the reader side implements [`Read`] over them and sends each
//! drained chunk back, so after the first [`CHUNKS`] chunks nothing is allocated. The bytes are
//! exactly the decoder's: a replay's results do not depend on it. An I/O or gzip error is
//! handed over in order, after the bytes before it. Dropping the reader ends the thread (its
//! next send or receive fails).
#![forbid(unsafe_code)]

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes per chunk.
pub const CHUNK: usize = 64 << 10;
/// Chunks in flight between the inflating thread and the reader.
pub const CHUNKS: usize = 8;
/// Files at least this large (compressed) are inflated on a thread; smaller ones inline,
/// where a thread per file would cost more than it saves.
pub const MIN_FILE_BYTES: u64 = 1 << 20;

/// The reading end: [`Read`] over the chunks the inflating thread sends.
pub struct Inflater {
    rx: Receiver<io::Result<Vec<u8>>>,
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Inflater {
    /// Inflate `src` (a gzip stream, members concatenated allowed) on a new thread named
    /// `name`. Errors: the thread could not be started.
    pub fn spawn<R: Read + Send + 'static>(src: R, name: String) -> io::Result<Inflater> {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(CHUNKS);
        let (back, spare) = sync_channel::<Vec<u8>>(CHUNKS + 1);
        std::thread::Builder::new().name(name).spawn(move || {
            let mut dec = flate2::read::MultiGzDecoder::new(src);
            let mut made = 0;
            loop {
                // a recycled chunk, else a new one while fewer than CHUNKS + 1 exist
                let mut buf = match spare.try_recv() {
                    Ok(b) => b,
                    Err(_) if made <= CHUNKS => {
                        made += 1;
                        Vec::with_capacity(CHUNK)
                    }
                    Err(_) => match spare.recv() {
                        Ok(b) => b,
                        Err(_) => return, // reader gone
                    },
                };
                buf.clear();
                buf.resize(CHUNK, 0);
                let mut n = 0;
                let res = loop {
                    if n == CHUNK {
                        break Ok(());
                    }
                    match dec.read(&mut buf[n..]) {
                        Ok(0) => break Ok(()),
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(n);
                let end = n < CHUNK;
                if n > 0 && tx.send(Ok(buf)).is_err() {
                    return;
                }
                if let Err(e) = res {
                    let _ = tx.send(Err(e));
                    return;
                }
                if end {
                    return; // the channel closes: end of stream
                }
            }
        })?;
        Ok(Inflater {
            rx,
            back,
            cur: Vec::new(),
            pos: 0,
            done: false,
        })
    }
}

impl Read for Inflater {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    let old = std::mem::replace(&mut self.cur, next);
                    self.pos = 0;
                    if old.capacity() > 0 {
                        let _ = self.back.try_send(old);
                    }
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(parts: &[&[u8]]) -> Vec<u8> {
        // members concatenated, as `cat a.gz b.gz` makes
        let mut all = Vec::new();
        for p in parts {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(p).unwrap();
            all.extend(w.finish().unwrap());
        }
        all
    }

    #[test]
    fn the_bytes_are_the_decoders_across_chunks_and_members() {
        // 3.3 chunks of varied bytes in two gzip members
        let a: Vec<u8> = (0..CHUNK * 2 + 77).map(|i| (i * 7 % 251) as u8).collect();
        let b: Vec<u8> = (0..CHUNK + CHUNK / 3)
            .map(|i| (i * 13 % 241) as u8)
            .collect();
        let data = gz(&[&a, &b]);
        let mut got = Vec::new();
        Inflater::spawn(std::io::Cursor::new(data), "t-inflate".into())
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        let mut want = a.clone();
        want.extend(&b);
        assert_eq!(got.len(), want.len());
        assert!(got == want);
    }

    #[test]
    fn a_broken_stream_gives_the_good_bytes_then_the_error() {
        // incompressible bytes, so a cut near the end loses only the bytes near the end
        let mut x: u64 = 88172645463325252;
        let good: Vec<u8> = (0..CHUNK + 5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut data = gz(&[&good]);
        let cut = data.len() - 12; // drop the trailer and a little data
        data.truncate(cut);
        let mut r = Inflater::spawn(std::io::Cursor::new(data), "t-inflate".into()).unwrap();
        let mut got = Vec::new();
        let e = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        assert!(
            got.len() >= CHUNK,
            "the bytes before the break arrive first"
        );
        assert_eq!(&got[..], &good[..got.len()]);
        // and the reader stays at the end
        assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
    }

    #[test]
    fn dropping_the_reader_early_ends_the_thread() {
        let big: Vec<u8> = (0..CHUNK * 12).map(|i| (i % 97) as u8).collect();
        let data = gz(&[&big]);
        let mut r = Inflater::spawn(std::io::Cursor::new(data), "t-inflate-drop".into()).unwrap();
        let mut first = [0u8; 100];
        r.read_exact(&mut first).unwrap();
        assert_eq!(&first[..], &big[..100]);
        drop(r);
        // the thread notices on its next send or receive; nothing to join, but it must not
        // hang the process: give it a moment and check the thread is gone
        let t0 = std::time::Instant::now();
        while thread_exists("t-inflate-drop") {
            assert!(t0.elapsed().as_secs() < 10, "inflate thread still running");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    fn thread_exists(name: &str) -> bool {
        std::fs::read_dir("/proc/self/task")
            .map(|d| {
                d.flatten().any(|e| {
                    std::fs::read_to_string(e.path().join("comm"))
                        .map(|c| c.trim_end() == name)
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    }
}
