//! Where attachments' bytes live: `attachments.dir/<first two hex digits of the id>/<id>` and
//! `<id>.thumb.jpg` beside it. An upload is written to `tmp/` first and renamed into place only
//! once it is whole and checked, so a partial file is never at a final path.

use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// The attachments directory.
#[derive(Debug, Clone)]
pub struct Storage {
    dir: PathBuf,
}

/// An upload written whole to a temporary file (removed when dropped, unless published).
pub struct Received {
    pub temp: TempFile,
    pub size: u64,
    pub sha256: String,
}

/// Why an upload's body was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the upload was cut off: {0}")]
    Interrupted(String),
    #[error("writing the upload: {0}")]
    Io(#[from] std::io::Error),
}

impl Storage {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Storage { dir: dir.into() }
    }

    /// The file of an attachment.
    pub fn file(&self, id: Uuid) -> PathBuf {
        self.shard(id).join(id.to_string())
    }

    /// The thumbnail of an attachment.
    pub fn thumbnail(&self, id: Uuid) -> PathBuf {
        self.shard(id).join(format!("{id}.thumb.jpg"))
    }

    fn shard(&self, id: Uuid) -> PathBuf {
        self.dir.join(&id.simple().to_string()[..2])
    }

    /// A new temporary file under `tmp/`.
    pub async fn temp(&self, id: Uuid, suffix: &str) -> std::io::Result<TempFile> {
        let dir = self.dir.join("tmp");
        tokio::fs::create_dir_all(&dir).await?;
        Ok(TempFile {
            path: Some(dir.join(format!("{id}{suffix}.part"))),
        })
    }

    /// Writes `body` to a temporary file, refusing it as soon as it passes `max` bytes.
    pub async fn receive<S, B, E>(
        &self,
        id: Uuid,
        mut body: S,
        max: u64,
    ) -> Result<Received, ReceiveError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let temp = self.temp(id, "").await?;
        let mut file = tokio::fs::File::create(temp.path()).await?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ReceiveError::Interrupted(e.to_string()))?;
            let bytes = chunk.as_ref();
            size += bytes.len() as u64;
            if size > max {
                return Err(ReceiveError::TooLarge(max));
            }
            hash.update(bytes);
            file.write_all(bytes).await?;
        }
        file.sync_all().await?;
        Ok(Received {
            temp,
            size,
            sha256: hex::encode(hash.finalize()),
        })
    }

    /// Moves a finished temporary file to its final path.
    pub async fn publish(&self, mut temp: TempFile, to: &Path) -> std::io::Result<()> {
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let from = temp.path.take().unwrap_or_default();
        tokio::fs::rename(&from, to).await
    }
}

/// A temporary file that is removed when dropped, unless [`Storage::publish`] took it.
pub struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chunks(parts: &[&'static str]) -> impl Stream<Item = Result<&'static [u8], String>> + Unpin {
        futures::stream::iter(parts.iter().map(|p| Ok(p.as_bytes())).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn an_upload_reaches_its_final_path_only_when_published() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path());
        let id = Uuid::now_v7();
        let received = storage
            .receive(id, chunks(&["hello ", "world"]), 100)
            .await
            .unwrap();
        assert_eq!(received.size, 11);
        assert!(!storage.file(id).exists());
        storage
            .publish(received.temp, &storage.file(id))
            .await
            .unwrap();
        assert_eq!(std::fs::read(storage.file(id)).unwrap(), b"hello world");
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn an_oversized_upload_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path());
        let id = Uuid::now_v7();
        let refused = storage.receive(id, chunks(&["12345", "67890"]), 8).await;
        assert!(matches!(refused, Err(ReceiveError::TooLarge(8))));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert!(!storage.file(id).exists());
    }
}
