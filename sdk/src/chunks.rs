//! Reading in chunks: `AsyncRead` and `Stream` over every byte source that
//! hands out chunks (WASI 0.2 input streams, WASI 0.3 `stream<u8>`, HTTP
//! response bodies), written once.

use std::io;
use std::task::{Poll, ready};

use bytes::Bytes;

/// How much one read asks the host for.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Copies a chunk the host returned into the reader's buffer; returns its
/// length. A host that returned more than the buffer holds (more than it
/// was asked for) broke the stream contract: that is an error for the
/// reader, not a panic of the guest.
pub(crate) fn fill(buf: &mut [u8], chunk: &[u8]) -> io::Result<usize> {
    let Some(dest) = buf.get_mut(..chunk.len()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the host returned {} bytes for a read of at most {}",
                chunk.len(),
                buf.len()
            ),
        ));
    };
    dest.copy_from_slice(chunk);
    Ok(chunk.len())
}

/// `AsyncRead::poll_read` from the next chunk (`None` at the end) of a
/// read of at most `buf.len()` bytes.
pub(crate) fn poll_read<B: AsRef<[u8]>>(
    buf: &mut [u8],
    next: Poll<io::Result<Option<B>>>,
) -> Poll<io::Result<usize>> {
    match ready!(next)? {
        None => Poll::Ready(Ok(0)),
        Some(chunk) => Poll::Ready(fill(buf, chunk.as_ref())),
    }
}

/// `Stream::poll_next` from the next chunk (`None` at the end).
pub(crate) fn poll_next<B: Into<Bytes>, E>(
    next: Poll<Result<Option<B>, E>>,
) -> Poll<Option<Result<Bytes, E>>> {
    Poll::Ready(ready!(next).transpose().map(|r| r.map(Into::into)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_that_fits_is_copied() {
        let mut buf = [0u8; 4];
        assert_eq!(fill(&mut buf, b"abc").unwrap(), 3);
        assert_eq!(&buf, b"abc\0");
    }

    #[test]
    fn a_host_that_returns_more_than_asked_for_gives_an_error_not_a_panic() {
        let mut buf = [0u8; 2];
        let err = fill(&mut buf, b"abc").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("3 bytes"), "{err}");
        assert_eq!(buf, [0, 0], "nothing is copied");
    }
}
