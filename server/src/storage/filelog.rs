//! SQLite's ingest log: append-only segment files in a directory next to the database.
//!
//! Appending a batch to a SQLite table goes through sqlx's connection thread: two thread
//! hand-offs per commit, and on a busy machine the connection thread waits for a core while the
//! request waits for it. Measured on the benchmark machine, that capped ingest near 10.5k req/s
//! with folding switched off entirely, against about 20k for appending the same bytes to a file.
//! So the SQLite backend keeps its log in plain files, written from the request's own thread:
//!
//! - a record is `magic, length, checksum, id, received_at, events, live, app id, body`; ids
//!   only grow (past the folded key in `ingest_progress`, which the aggregator advances in the
//!   transaction that folds the records);
//! - `append` writes one record with one positional write under a mutex, and returns once the
//!   write returned: the record is then in the operating system's page cache, and survives a
//!   crash of the process. That is exactly the durability SQLite's WAL gives with
//!   `synchronous = NORMAL`, which the database itself uses: an OS crash or power loss may lose
//!   the last writes since the previous sync, never a process crash;
//! - a segment holds up to [`SEGMENT_BYTES`]; segments whose records are all folded are
//!   deleted, the one being written never is;
//! - reading skips a corrupt record to the next valid one (a record's magic, length and
//!   checksum, found again byte by byte), so one damaged record never costs the ones after it;
//!   opening the log cuts only a torn tail with no valid record after it (what an OS crash may
//!   leave), and appends to a new segment;
//! - segments are deleted only after the aggregator's commit of the folded key is on disk (its
//!   connection runs `synchronous = FULL`), so an OS crash can never roll the key back past a
//!   deleted segment;
//! - a lock file keeps a second process (or store) from writing the same log.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

/// A new segment is started once the current one holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Marks the start of a record: `HFL1`.
const MAGIC: u32 = 0x3150_4648;
/// Magic, payload length and checksum.
const HEADER: usize = 16;
/// Id, received_at, events, live and the app id's length.
const FIXED: usize = 8 + 8 + 4 + 1 + 2;
/// No record is this large (a batch is at most 256 KiB of request body).
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its key, increasing.
    pub id: i64,
    /// The app.
    pub app_id: String,
    /// Live or test data.
    pub live: bool,
    /// When the server accepted the batch, unix seconds.
    pub received_at: i64,
    /// How many events it holds.
    pub events: i64,
    /// The encoded batch.
    pub body: String,
}

/// What opening the log found still to fold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Records past the folded key.
    pub rows: i64,
    /// Events in them.
    pub events: i64,
}

/// The log of one database.
#[derive(Debug)]
pub struct FileLog {
    dir: PathBuf,
    writer: Mutex<Writer>,
    /// The id of the last record appended (or the folded key, before any).
    last_id: AtomicI64,
    /// Where the last `read_after` stopped, so the next one (normally asked for the records after
    /// the last it returned) starts there instead of at the segment's start.
    cursor: Mutex<Option<Cursor>>,
    /// Held for the life of the log: the lock file.
    _lock: File,
}

/// A position in the log: a segment, a byte offset in it, and the id of the record before it.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    segment: i64,
    offset: u64,
    last_id: i64,
}

#[derive(Debug)]
struct Writer {
    file: File,
    /// Bytes written to `file`.
    len: u64,
    /// The first id of each segment, oldest first; the last is `file`'s.
    segments: VecDeque<i64>,
    next_id: i64,
    /// A write failed and could not be undone: start a new segment before the next record.
    broken: bool,
}

impl FileLog {
    /// Opens (creating if missing) the log in `dir`, checks it, deletes segments folded up to
    /// `folded_up_to`, and starts a new segment for appending.
    pub fn open(dir: &Path, folded_up_to: i64) -> io::Result<(Self, Backlog)> {
        std::fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        lock.try_lock().map_err(|_| {
            io::Error::other(format!(
                "the ingest log {} is in use by another process",
                dir.display()
            ))
        })?;
        let mut last_id = folded_up_to;
        let mut backlog = Backlog::default();
        let mut segments = VecDeque::new();
        for first in list_segments(dir)? {
            let path = segment_path(dir, first);
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let (valid, records) = scan(&file)?;
            if valid < file.metadata()?.len() {
                tracing::warn!(segment = %path.display(), valid, "cutting a torn ingest log segment");
                file.set_len(valid)?;
            }
            let last = records.last().map(|r| r.0);
            if last.is_none_or(|last| last <= folded_up_to) {
                std::fs::remove_file(&path)?;
            } else {
                segments.push_back(first);
            }
            for (id, events) in records {
                last_id = last_id.max(id);
                if id > folded_up_to {
                    backlog.rows += 1;
                    backlog.events += events;
                }
            }
        }
        let next_id = last_id + 1;
        let file = create_segment(dir, next_id)?;
        segments.push_back(next_id);
        let log = Self {
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer {
                file,
                len: 0,
                segments,
                next_id,
                broken: false,
            }),
            last_id: AtomicI64::new(last_id),
            cursor: Mutex::new(None),
            _lock: lock,
        };
        Ok((log, backlog))
    }

    /// Appends one record and returns its id once the write has returned.
    pub fn append(
        &self,
        app_id: &str,
        live: bool,
        received_at: i64,
        events: i64,
        body: &str,
    ) -> io::Result<i64> {
        let app = u16::try_from(app_id.len())
            .map_err(|_| io::Error::other("an app id longer than 64 KiB"))?;
        let events_u32 =
            u32::try_from(events).map_err(|_| io::Error::other("an event count out of range"))?;
        let payload_len = FIXED + app_id.len() + body.len();
        if payload_len > MAX_PAYLOAD {
            return Err(io::Error::other("an ingest log record larger than 16 MiB"));
        }
        let mut record = Vec::with_capacity(HEADER + payload_len);
        record.extend_from_slice(&MAGIC.to_le_bytes());
        record.extend_from_slice(&u32::try_from(payload_len).unwrap_or(u32::MAX).to_le_bytes());
        record.extend_from_slice(&[0; 8]);
        record.extend_from_slice(&[0; 8]); // the id, set under the lock
        record.extend_from_slice(&received_at.to_le_bytes());
        record.extend_from_slice(&events_u32.to_le_bytes());
        record.push(u8::from(live));
        record.extend_from_slice(&app.to_le_bytes());
        record.extend_from_slice(app_id.as_bytes());
        record.extend_from_slice(body.as_bytes());

        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if w.broken || w.len >= SEGMENT_BYTES {
            let first = w.next_id;
            w.file = create_segment(&self.dir, first)?;
            w.len = 0;
            w.broken = false;
            w.segments.push_back(first);
        }
        let id = w.next_id;
        record[HEADER..HEADER + 8].copy_from_slice(&id.to_le_bytes());
        let sum = checksum(&record[HEADER..]);
        record[8..16].copy_from_slice(&sum.to_le_bytes());
        if let Err(e) = w.file.write_all_at(&record, w.len) {
            // Leave no partial record behind; if even that fails, never write after it.
            if w.file.set_len(w.len).is_err() {
                w.broken = true;
            }
            return Err(e);
        }
        w.len += record.len() as u64;
        w.next_id += 1;
        self.last_id.store(id, Ordering::Release);
        Ok(id)
    }

    /// The id of the last record appended.
    pub fn last_id(&self) -> i64 {
        self.last_id.load(Ordering::Acquire)
    }

    /// Up to `max` records with ids above `after`, oldest first, read from complete records only.
    pub fn read_after(&self, after: i64, max: usize) -> io::Result<Vec<Record>> {
        let (segments, active_len) = {
            let w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            (w.segments.clone(), w.len)
        };
        let cursor = *self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let resume = cursor.filter(|c| c.last_id == after);
        let mut out = Vec::new();
        let mut stopped = resume;
        for (i, &first) in segments.iter().enumerate() {
            if out.len() >= max {
                break;
            }
            let start = match resume {
                Some(c) if c.segment > first => continue,
                Some(c) if c.segment == first => c.offset,
                // Skip segments whose records all lie at or below `after`.
                _ if segments.get(i + 1).is_some_and(|&next| next <= after + 1) => continue,
                _ => 0,
            };
            let file = match File::open(segment_path(&self.dir, first)) {
                Ok(file) => file,
                // Deleted since the snapshot: all of it was folded.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let end = if i + 1 == segments.len() {
                active_len
            } else {
                file.metadata()?.len()
            };
            let read = read_records(&file, start, end, after, max, &mut out)?;
            if let Some(offset) = read.torn {
                return Err(torn(offset));
            }
            stopped = Some(Cursor {
                segment: first,
                offset: read.end,
                last_id: out.last().map_or(after, |r| r.id),
            });
        }
        *self.cursor.lock().unwrap_or_else(PoisonError::into_inner) = stopped;
        Ok(out)
    }

    /// Deletes the segments whose records are all at or below `folded_up_to`; never the one
    /// being written.
    pub fn remove_folded(&self, folded_up_to: i64) -> io::Result<()> {
        let doomed: Vec<i64> = {
            let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let mut doomed = Vec::new();
            while w.segments.len() > 1
                && w.segments
                    .get(1)
                    .is_some_and(|&next| next <= folded_up_to + 1)
            {
                doomed.extend(w.segments.pop_front());
            }
            doomed
        };
        for first in doomed {
            std::fs::remove_file(segment_path(&self.dir, first))?;
        }
        Ok(())
    }
}

fn segment_path(dir: &Path, first: i64) -> PathBuf {
    dir.join(format!("{first:020}.log"))
}

fn create_segment(dir: &Path, first: i64) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(segment_path(dir, first))
}

/// The segments in `dir`, by first id.
fn list_segments(dir: &Path) -> io::Result<Vec<i64>> {
    let mut firsts = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        firsts.push(first);
    }
    firsts.sort_unstable();
    Ok(firsts)
}

/// Reads every record of a segment held in memory, as opening the log reads a segment file: the
/// length of its valid prefix and its records. The same reader as [`FileLog`]'s, so the fuzz
/// targets (and their corpus replayed as tests) exercise it without files.
pub fn read_segment(bytes: &[u8]) -> io::Result<(u64, Vec<Record>)> {
    let mut out = Vec::new();
    let read = read_records(bytes, 0, bytes.len() as u64, i64::MIN, usize::MAX, &mut out)?;
    Ok((read.end, out))
}

/// What the record reader reads from: a segment file, or a segment in memory.
trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let part = usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(part);
        Ok(())
    }
}

/// Checks a segment: the length of its valid prefix and `(id, events)` of each record in it.
fn scan(file: &File) -> io::Result<(u64, Vec<(i64, i64)>)> {
    let len = file.metadata()?.len();
    let mut all = Vec::new();
    let read = read_records(file, 0, len, i64::MIN, usize::MAX, &mut all)?;
    Ok((read.end, all.iter().map(|r| (r.id, r.events)).collect()))
}

/// How far [`read_records`] got.
#[derive(Debug, Clone, Copy)]
struct Read {
    /// The offset after the last record read.
    end: u64,
    /// Where a torn or corrupt record starts, if it stopped at one.
    torn: Option<u64>,
}

/// Reads the records of `file` from byte `start` (a record's start) up to byte `end`, appending
/// those with ids above `after` to `out` until it holds `max`. Stops at the first torn or
/// corrupt record.
fn read_records(
    file: &(impl ReadAt + ?Sized),
    start: u64,
    end: u64,
    after: i64,
    max: usize,
    out: &mut Vec<Record>,
) -> io::Result<Read> {
    /// Reads this much at a time: a pass's worth of records in a few reads, without copying
    /// (or zeroing) much more than is used.
    const CHUNK: u64 = 1024 * 1024;
    let mut offset = start;
    let mut buf = Vec::new();
    let mut want = CHUNK;
    while offset < end && out.len() < max {
        let size = usize::try_from((end - offset).min(want)).map_err(io::Error::other)?;
        buf.resize(size, 0);
        file.read_exact_at(&mut buf, offset)?;
        want = CHUNK;
        let mut at = 0_usize;
        while at < buf.len() && out.len() < max {
            match parse(&buf[at..]) {
                Parsed::Record(record, size) => {
                    if record.id > after {
                        out.push(record);
                    }
                    at += size;
                }
                // The record continues past what was read: read again from its start, all of it.
                Parsed::Incomplete(size) if offset + (at + size) as u64 <= end => {
                    want = want.max(size as u64);
                    break;
                }
                Parsed::Incomplete(_) | Parsed::Corrupt => {
                    let bad = offset + at as u64;
                    match resync(file, bad + 1, end)? {
                        Some(next) => {
                            tracing::warn!(
                                at = bad,
                                skipped = next - bad,
                                "skipping a corrupt ingest log record"
                            );
                            // Read on from the next valid record.
                            offset = next;
                            at = 0;
                            buf.clear();
                            break;
                        }
                        None => {
                            return Ok(Read {
                                end: bad,
                                torn: Some(bad),
                            });
                        }
                    }
                }
            }
        }
        offset += at as u64;
    }
    Ok(Read {
        end: offset,
        torn: None,
    })
}

/// The offset of the first valid record at or after `from` (before `end`), if any: a corrupt
/// record's length cannot be trusted, so the next one is found by its magic and checksum.
fn resync(file: &(impl ReadAt + ?Sized), from: u64, end: u64) -> io::Result<Option<u64>> {
    const WINDOW: u64 = 1024 * 1024;
    let magic = MAGIC.to_le_bytes();
    let mut start = from;
    while start < end {
        let size = usize::try_from((end - start).min(WINDOW)).map_err(io::Error::other)?;
        let mut buf = vec![0; size];
        file.read_exact_at(&mut buf, start)?;
        for i in 0..buf.len().saturating_sub(3) {
            if buf[i..i + 4] == magic {
                let at = start + i as u64;
                let len = usize::try_from(end - at).map_err(io::Error::other)?;
                let mut candidate = vec![0; len.min(HEADER + MAX_PAYLOAD)];
                file.read_exact_at(&mut candidate, at)?;
                if matches!(parse(&candidate), Parsed::Record(..)) {
                    return Ok(Some(at));
                }
            }
        }
        // Overlap by three bytes so a magic across the window's edge is found.
        start += (size as u64).saturating_sub(3).max(1);
    }
    Ok(None)
}

enum Parsed {
    /// A record and its size in bytes.
    Record(Record, usize),
    /// The bytes end inside a record of this size (at least a header's, when that is cut).
    Incomplete(usize),
    /// Not a record.
    Corrupt,
}

fn parse(bytes: &[u8]) -> Parsed {
    let Some(header) = bytes.get(..HEADER) else {
        return Parsed::Incomplete(HEADER);
    };
    let len = le_u32(&header[4..8]) as usize;
    if le_u32(&header[..4]) != MAGIC || !(FIXED..=MAX_PAYLOAD).contains(&len) {
        return Parsed::Corrupt;
    }
    let Some(payload) = bytes.get(HEADER..HEADER + len) else {
        return Parsed::Incomplete(HEADER + len);
    };
    if checksum(payload) != le_u64(&header[8..16]) {
        return Parsed::Corrupt;
    }
    match decode(payload) {
        Some(record) => Parsed::Record(record, HEADER + len),
        None => Parsed::Corrupt,
    }
}

fn torn(offset: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("torn or corrupt ingest log record at byte {offset}"),
    )
}

fn decode(payload: &[u8]) -> Option<Record> {
    let id = le_u64(payload.get(0..8)?) as i64;
    let received_at = le_u64(payload.get(8..16)?) as i64;
    let events = i64::from(le_u32(payload.get(16..20)?));
    let live = *payload.get(20)? != 0;
    let app_len = usize::from(u16::from_le_bytes(payload.get(21..23)?.try_into().ok()?));
    let app_id = std::str::from_utf8(payload.get(FIXED..FIXED + app_len)?).ok()?;
    let body = std::str::from_utf8(payload.get(FIXED + app_len..)?).ok()?;
    Some(Record {
        id,
        app_id: app_id.to_string(),
        live,
        received_at,
        events,
        body: body.to_string(),
    })
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(bytes.get(..4).unwrap_or(&[0; 4]));
    u32::from_le_bytes(b)
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(bytes.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(b)
}

/// A fast 64-bit checksum: it detects torn and corrupt records, not tampering.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15_u64 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h = (h ^ le_u64(chunk)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 29;
    }
    let mut tail = [0; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(log: &FileLog, n: usize) -> Vec<i64> {
        (0..n)
            .map(|i| {
                log.append(
                    "app_t",
                    i % 2 == 0,
                    1_700_000_000,
                    5,
                    &format!("{{\"n\":{i}}}"),
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn records_come_back_in_order_past_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let (log, backlog) = FileLog::open(dir.path(), 0).unwrap();
        assert_eq!(backlog, Backlog::default());
        assert_eq!(append(&log, 3), [1, 2, 3]);
        let records = log.read_after(1, 10).unwrap();
        assert_eq!(records.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(records[0].body, "{\"n\":1}");
        assert_eq!(
            (records[0].app_id.as_str(), records[0].live),
            ("app_t", false)
        );
        assert_eq!(log.read_after(0, 2).unwrap().len(), 2, "at most `max`");
        assert_eq!(log.last_id(), 3);
    }

    #[test]
    fn reopening_keeps_unfolded_records_and_ids_keep_growing() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 0).unwrap();
        append(&log, 4);
        drop(log);
        let (log, backlog) = FileLog::open(dir.path(), 2).unwrap();
        assert_eq!(
            backlog,
            Backlog {
                rows: 2,
                events: 10
            }
        );
        assert_eq!(append(&log, 1), [5]);
        let ids: Vec<i64> = log
            .read_after(2, 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [3, 4, 5]);
        drop(log);
        let (log, backlog) = FileLog::open(dir.path(), 5).unwrap();
        assert_eq!(backlog, Backlog::default());
        assert_eq!(
            list_segments(dir.path()).unwrap().len(),
            1,
            "folded segments are gone"
        );
        assert_eq!(append(&log, 1), [6]);
    }

    #[test]
    fn a_torn_tail_is_cut_and_what_came_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 0).unwrap();
        append(&log, 3);
        drop(log);
        let first = list_segments(dir.path()).unwrap()[0];
        let path = segment_path(dir.path(), first);
        let len = std::fs::metadata(&path).unwrap().len();
        // An OS crash left half of the last record, then garbage.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len - 5).unwrap();
        file.write_all_at(b"\0\0garbage", len - 5).unwrap();
        let (log, backlog) = FileLog::open(dir.path(), 0).unwrap();
        assert_eq!(backlog.rows, 2);
        let ids: Vec<i64> = log
            .read_after(0, 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(
            append(&log, 1),
            [3],
            "the cut record's id is reused: it was never read"
        );
    }

    #[test]
    fn a_corrupt_record_is_skipped_and_the_records_after_it_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 0).unwrap();
        append(&log, 5);
        drop(log);
        let first = list_segments(dir.path()).unwrap()[0];
        let path = segment_path(dir.path(), first);
        let bytes = std::fs::read(&path).unwrap();
        // Damage the second record's payload: its checksum no longer matches.
        let second = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == MAGIC.to_le_bytes())
            .nth(1)
            .unwrap()
            .0;
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(b"XXXX", (second + HEADER + 30) as u64)
            .unwrap();
        let (log, backlog) = FileLog::open(dir.path(), 0).unwrap();
        assert_eq!(backlog.rows, 4);
        let ids: Vec<i64> = log
            .read_after(0, 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [1, 3, 4, 5], "only the damaged record is lost");
    }

    #[test]
    fn a_record_larger_than_a_read_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 0).unwrap();
        append(&log, 1);
        let big = "x".repeat(3 * 1024 * 1024);
        log.append("app_t", true, 1, 100, &big).unwrap();
        append(&log, 1);
        let records = log.read_after(0, 10).unwrap();
        assert_eq!(records.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(records[1].body.len(), big.len());
        drop(log);
        let (_, backlog) = FileLog::open(dir.path(), 0).unwrap();
        assert_eq!(backlog.rows, 3);
    }

    #[test]
    fn a_second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_log, _) = FileLog::open(dir.path(), 0).unwrap();
        let err = FileLog::open(dir.path(), 0).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
    }

    #[test]
    fn segments_roll_over_and_folded_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = FileLog::open(dir.path(), 0).unwrap();
        append(&log, 2);
        log.writer.lock().unwrap().len = SEGMENT_BYTES;
        append(&log, 2);
        assert_eq!(list_segments(dir.path()).unwrap(), [1, 3]);
        let ids: Vec<i64> = log
            .read_after(1, 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [2, 3, 4]);
        log.remove_folded(1).unwrap();
        assert_eq!(
            list_segments(dir.path()).unwrap().len(),
            2,
            "id 2 is not folded yet"
        );
        log.remove_folded(2).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), [3]);
        log.remove_folded(4).unwrap();
        assert_eq!(
            list_segments(dir.path()).unwrap(),
            [3],
            "never the segment being written"
        );
    }
}
