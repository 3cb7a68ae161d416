//! A [`FeedSource`] that reads raw messages from a byte ring filled by the replay reader
//! ([`crate::replay`]). To the feed thread it looks like a socket that has already been read.
#![forbid(unsafe_code)]

use super::{FeedSource, SourceEvent, SourceState};
use crate::ring::ByteConsumer;

/// Messages handed over per poll before the thread looks at its other sources.
const BUDGET: usize = 64;

/// Replay input of one feed thread.
pub struct ReplaySource {
    rx: ByteConsumer,
}

impl ReplaySource {
    /// Wrap the consumer end of the reader's ring.
    pub fn new(rx: ByteConsumer) -> ReplaySource {
        ReplaySource { rx }
    }
}

impl FeedSource for ReplaySource {
    fn poll(&mut self, f: &mut dyn FnMut(SourceEvent<'_>)) -> SourceState {
        for _ in 0..BUDGET {
            match self.rx.peek() {
                Some((meta, data)) => {
                    f(SourceEvent::Message(meta, data));
                    self.rx.advance();
                }
                None => {
                    return if self.rx.is_finished() {
                        SourceState::Finished
                    } else {
                        SourceState::Open
                    }
                }
            }
        }
        SourceState::Open
    }
}
