//! Temporary media (临时素材): the `media_id` an image, voice or video
//! reply names, uploaded here and kept by WeChat for three days; and the
//! media users send (their pushes carry a `MediaId`), downloaded.
//!
//! Each type's size and format are checked before the upload: image ≤ 10
//! MB (bmp, png, jpeg, jpg, gif), voice ≤ 2 MB (amr, mp3; WeChat also
//! refuses more than 60 s, which only it checks), video ≤ 10 MB (mp4),
//! thumb ≤ 64 KB (jpg). The format is the file name's extension, as WeChat
//! reads it.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ApiClient, ApiError, Download, FilePart, InvalidRequest};

const UPLOAD: &str = "/cgi-bin/media/upload";
const GET: &str = "/cgi-bin/media/get";

/// A temporary media's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MediaType {
    /// `image`: ≤ 10 MB; bmp, png, jpeg, jpg, gif.
    Image,
    /// `voice`: ≤ 2 MB, ≤ 60 s; amr, mp3.
    Voice,
    /// `video`: ≤ 10 MB; mp4.
    Video,
    /// `thumb` (a music or video reply's cover): ≤ 64 KB; jpg.
    Thumb,
}

impl MediaType {
    /// The type as WeChat spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Voice => "voice",
            MediaType::Video => "video",
            MediaType::Thumb => "thumb",
        }
    }

    /// The largest file WeChat takes, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            MediaType::Image | MediaType::Video => 10 * 1024 * 1024,
            MediaType::Voice => 2 * 1024 * 1024,
            MediaType::Thumb => 64 * 1024,
        }
    }

    /// The file extensions (formats) WeChat takes.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            MediaType::Image => &["bmp", "png", "jpeg", "jpg", "gif"],
            MediaType::Voice => &["amr", "mp3"],
            MediaType::Video => &["mp4"],
            MediaType::Thumb => &["jpg"],
        }
    }

    /// The MIME type sent for a file with extension `ext`.
    fn mime(ext: &str) -> &'static str {
        match ext {
            "bmp" => "image/bmp",
            "png" => "image/png",
            "jpeg" | "jpg" => "image/jpeg",
            "gif" => "image/gif",
            "amr" => "audio/amr",
            "mp3" => "audio/mpeg",
            "mp4" => "video/mp4",
            _ => "application/octet-stream",
        }
    }

    /// Checks a file named `file_name` of `len` bytes against this type's
    /// format and size.
    ///
    /// ```
    /// use wechat_events::api::MediaType;
    /// assert!(MediaType::Image.check("cat.png", 1024).is_ok());
    /// let err = MediaType::Thumb.check("cover.jpg", 65 * 1024).unwrap_err();
    /// assert_eq!(err.to_string(), "media: cover.jpg is 66560 bytes; a thumb is at most 65536 bytes (64 KB)");
    /// ```
    pub fn check(self, file_name: &str, len: usize) -> Result<(), InvalidRequest> {
        let ext = extension(file_name);
        if !self.extensions().contains(&ext.as_str()) {
            return Err(InvalidRequest::new(
                "media",
                format!(
                    "{file_name} is not a {} file WeChat takes ({})",
                    self.as_str(),
                    self.extensions().join(", ")
                ),
            ));
        }
        if len == 0 {
            return Err(InvalidRequest::new(
                "media",
                format!("{file_name} is empty"),
            ));
        }
        let max = self.max_bytes();
        if len > max {
            let shown = if max >= 1024 * 1024 {
                format!("{} MB", max / 1024 / 1024)
            } else {
                format!("{} KB", max / 1024)
            };
            return Err(InvalidRequest::new(
                "media",
                format!(
                    "{file_name} is {len} bytes; a {} is at most {max} bytes ({shown})",
                    self.as_str()
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MediaType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "image" => MediaType::Image,
            "voice" => MediaType::Voice,
            "video" => MediaType::Video,
            "thumb" => MediaType::Thumb,
            other => return Err(format!("{other:?} is not image, voice, video or thumb")),
        })
    }
}

fn extension(file_name: &str) -> String {
    Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// A file to upload: its name (whose extension is its format) and bytes.
#[derive(Clone)]
#[non_exhaustive]
pub struct MediaFile {
    /// The file name sent.
    pub file_name: String,
    /// The content.
    pub bytes: bytes::Bytes,
}

impl MediaFile {
    /// `bytes` named `file_name`.
    pub fn new(file_name: impl Into<String>, bytes: impl Into<bytes::Bytes>) -> Self {
        MediaFile {
            file_name: file_name.into(),
            bytes: bytes.into(),
        }
    }

    /// The file at `path`, read whole.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ApiError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ApiError::File {
            path: path.to_owned(),
            source,
        })?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(MediaFile::new(file_name, bytes))
    }
}

impl fmt::Debug for MediaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaFile")
            .field("file_name", &self.file_name)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// What `media/upload` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct UploadedMedia {
    /// The type, as WeChat says it.
    #[serde(rename = "type")]
    pub media_type: String,
    /// The id to reply with (`Reply::image(media_id)`), valid three days.
    /// (A thumb's answer names it `thumb_media_id`.)
    #[serde(alias = "thumb_media_id")]
    pub media_id: String,
    /// When it was uploaded, Unix seconds.
    pub created_at: i64,
}

/// A downloaded medium: a file, or for a video, WeChat's link to it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Media {
    /// The file (an image, a voice clip).
    File(Download),
    /// A video: WeChat answers with a URL to fetch it from.
    VideoUrl(String),
}

/// The media calls; see [`ApiClient::media`].
///
/// ```no_run
/// # async fn f(api: wechat_events::api::ApiClient) -> Result<(), wechat_events::api::ApiError> {
/// use wechat_events::api::{MediaFile, MediaType};
/// use wechat_events::Reply;
/// let uploaded = api.media().upload(MediaType::Image, &MediaFile::read("cat.png")?).await?;
/// let reply = Reply::image(uploaded.media_id);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MediaApi<'a> {
    api: &'a ApiClient,
}

impl<'a> MediaApi<'a> {
    pub(crate) fn new(api: &'a ApiClient) -> Self {
        MediaApi { api }
    }

    /// Uploads `file` as temporary media of `media_type`
    /// (`media/upload`), after checking its format and size.
    pub async fn upload(
        &self,
        media_type: MediaType,
        file: &MediaFile,
    ) -> Result<UploadedMedia, ApiError> {
        media_type.check(&file.file_name, file.bytes.len())?;
        let part = FilePart::new("media", file.file_name.clone(), file.bytes.clone())
            .content_type(MediaType::mime(&extension(&file.file_name)));
        let answer = self
            .api
            .upload(UPLOAD, &[("type", media_type.as_str())], &part)
            .await?;
        super::decode(UPLOAD, answer)
    }

    /// Downloads the temporary media `media_id` (`media/get`): one a user
    /// sent (its push's `MediaId`) or one uploaded.
    pub async fn get(&self, media_id: &str) -> Result<Media, ApiError> {
        if media_id.trim().is_empty() {
            return Err(InvalidRequest::new("media_id", "is empty").into());
        }
        let download = self.api.download(GET, &[("media_id", media_id)]).await?;
        if download.is_json() {
            #[derive(Deserialize)]
            struct Video {
                video_url: String,
            }
            if let Ok(video) = serde_json::from_slice::<Video>(&download.bytes) {
                return Ok(Media::VideoUrl(video.video_url));
            }
        }
        Ok(Media::File(download))
    }
}
