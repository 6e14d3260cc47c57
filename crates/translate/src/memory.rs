//! The translation store: translation memory, human corrections, the
//! review queue and ingested catalogs, in `translate.db` beside the order
//! store in the data dir.
//!
//! The tables live in their own SQLite file with their own numbered
//! migrations, so the translation schema evolves without renumbering the
//! order store's migrations. Lookups use the normalized source text (lower
//! case, white space collapsed) as key. Human corrections win over engine
//! output: they are looked up first, for whole fields, and segment entries
//! with origin `human` win over those with origin `engine`.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};
use serde::Serialize;

use crate::catalog::Listing;
use crate::lang::LanguagePair;

/// File name of the translation store inside the data dir.
pub const DB_FILE: &str = "translate.db";

/// Share of similarity from which a fuzzy match is reused.
pub const FUZZY_THRESHOLD: f64 = 0.85;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tm_segments (
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    source      TEXT NOT NULL,
    target      TEXT NOT NULL,
    origin      TEXT NOT NULL CHECK (origin IN ('engine', 'human')),
    engine      TEXT NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (source_lang, target_lang, source_key, origin)
);
CREATE TABLE corrections (
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    source      TEXT NOT NULL,
    target      TEXT NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (source_lang, target_lang, source_key)
);
CREATE TABLE review_queue (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL,
    field       TEXT NOT NULL,
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    source      TEXT NOT NULL,
    translation TEXT NOT NULL,
    score       REAL NOT NULL,
    flags       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at  TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE (sku, field, target_lang, source)
);
CREATE TABLE catalog_listings (
    dataset TEXT NOT NULL,
    sku     TEXT NOT NULL,
    listing TEXT NOT NULL,
    PRIMARY KEY (dataset, sku)
);
"#,
    // Words the engine could not translate, one per line, so that a
    // segment reused from memory keeps its unknown-word penalty.
    "ALTER TABLE tm_segments ADD COLUMN unknown_words TEXT NOT NULL DEFAULT '';",
];

/// Failure to open, read or write the translation store.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("cannot open translation store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("translation store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("translation store contains an invalid listing: {0}")]
    Corrupt(String),
}

/// A segment found in the translation memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryMatch {
    /// Source text of the stored entry; differs from the text looked up
    /// when the match is fuzzy.
    pub source: String,
    pub target: String,
    /// 1.0 for an exact match.
    pub similarity: f64,
    pub human: bool,
    /// Engine that produced `target`; empty for a person's translation.
    pub engine: String,
    /// Words the engine marked unknown when it produced `target`.
    pub unknown_words: Vec<String>,
}

/// An engine translation of a masked segment, as stored in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSegment {
    pub source: String,
    pub target: String,
    pub unknown_words: Vec<String>,
}

/// An item of the review queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewItem {
    pub id: i64,
    pub sku: String,
    pub field: String,
    pub source_lang: String,
    pub target_lang: String,
    pub source: String,
    pub translation: String,
    pub score: f64,
    pub flags: String,
}

/// A segment held for fuzzy lookup.
struct CachedSegment {
    key: String,
    source: String,
    target: String,
    human: bool,
    /// Unknown words as stored, one per line.
    unknown_words: String,
    engine: String,
}

/// Handle on `translate.db`.
pub struct Memory {
    conn: Connection,
    /// Segments per pair, loaded on first fuzzy lookup.
    fuzzy_cache: Option<(LanguagePair, Vec<CachedSegment>)>,
}

/// Normalized lookup key of a text.
///
/// NOTE: the key ignores case, so "made in turkey" and "made in Turkey"
/// share an entry, and either may serve the other's translation.
pub fn key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Memory {
    /// Opens (creating when absent) the translation store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Memory, MemoryError> {
        let path = data_dir.join(DB_FILE);
        let open_error = |message: String| MemoryError::Open {
            path: path.clone(),
            message,
        };
        std::fs::create_dir_all(data_dir).map_err(|err| open_error(err.to_string()))?;
        let mut conn = Connection::open(&path).map_err(|err| open_error(err.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|err| open_error(err.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|err| open_error(err.to_string()))?;
        Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
            .to_latest(&mut conn)
            .map_err(|err| open_error(err.to_string()))?;
        Ok(Memory {
            conn,
            fuzzy_cache: None,
        })
    }

    /// Human correction of a whole field: exact, else the best fuzzy match
    /// at or above [`FUZZY_THRESHOLD`].
    pub fn correction(
        &self,
        pair: &LanguagePair,
        source: &str,
    ) -> Result<Option<MemoryMatch>, MemoryError> {
        let source_key = key(source);
        let exact: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT source, target FROM corrections WHERE source_lang = ?1 AND target_lang = ?2 AND source_key = ?3",
                params![pair.source, pair.target, source_key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((stored_source, target)) = exact {
            return Ok(Some(MemoryMatch {
                source: stored_source,
                target,
                similarity: 1.0,
                human: true,
                engine: String::new(),
                unknown_words: Vec::new(),
            }));
        }

        let mut statement = self.conn.prepare_cached(
            "SELECT source_key, source, target FROM corrections
             WHERE source_lang = ?1 AND target_lang = ?2",
        )?;
        let rows = statement.query_map(params![pair.source, pair.target], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut best: Option<MemoryMatch> = None;
        for row in rows {
            let (candidate, stored_source, target) = row?;
            let similarity = similarity(&source_key, &candidate);
            if similarity >= FUZZY_THRESHOLD
                && best.as_ref().is_none_or(|b| similarity > b.similarity)
                && anchors(&candidate) == anchors(&source_key)
            {
                best = Some(MemoryMatch {
                    source: stored_source,
                    target,
                    similarity,
                    human: true,
                    engine: String::new(),
                    unknown_words: Vec::new(),
                });
            }
        }
        Ok(best)
    }

    /// Looks a masked segment up: an exact match (human first), else the
    /// most similar segment at or above [`FUZZY_THRESHOLD`].
    pub fn segment(
        &mut self,
        pair: &LanguagePair,
        source: &str,
    ) -> Result<Option<MemoryMatch>, MemoryError> {
        let source_key = key(source);
        let exact: Option<(String, String, String, String, String)> = self
            .conn
            .query_row(
                "SELECT source, target, origin, unknown_words, engine FROM tm_segments
                 WHERE source_lang = ?1 AND target_lang = ?2 AND source_key = ?3
                 ORDER BY origin = 'human' DESC LIMIT 1",
                params![pair.source, pair.target, source_key],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .optional()?;
        if let Some((stored_source, target, origin, unknown, engine)) = exact {
            let human = origin == "human";
            return Ok(Some(MemoryMatch {
                source: stored_source,
                target,
                similarity: 1.0,
                human,
                engine: if human { String::new() } else { engine },
                unknown_words: split_words(&unknown),
            }));
        }

        if self
            .fuzzy_cache
            .as_ref()
            .is_none_or(|(cached, _)| cached != pair)
        {
            let mut statement = self.conn.prepare(
                "SELECT source_key, source, target, origin, unknown_words, engine FROM tm_segments
                 WHERE source_lang = ?1 AND target_lang = ?2",
            )?;
            let rows = statement
                .query_map(params![pair.source, pair.target], |row| {
                    Ok(CachedSegment {
                        key: row.get(0)?,
                        source: row.get(1)?,
                        target: row.get(2)?,
                        human: row.get::<_, String>(3)? == "human",
                        unknown_words: row.get(4)?,
                        engine: row.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            self.fuzzy_cache = Some((pair.clone(), rows));
        }
        let (_, entries) = self.fuzzy_cache.as_ref().expect("cache filled above");
        let length = source_key.chars().count() as f64;
        let mut best: Option<MemoryMatch> = None;
        for entry in entries {
            // Strings whose lengths differ by more than the threshold allows
            // cannot reach it; skip them before the edit distance.
            let candidate_length = entry.key.chars().count() as f64;
            if (candidate_length - length).abs()
                > (1.0 - FUZZY_THRESHOLD) * length.max(candidate_length)
            {
                continue;
            }
            let similarity = similarity(&source_key, &entry.key);
            if similarity >= FUZZY_THRESHOLD
                && best.as_ref().is_none_or(|b| similarity > b.similarity)
                && anchors(&entry.key) == anchors(&source_key)
            {
                best = Some(MemoryMatch {
                    source: entry.source.clone(),
                    target: entry.target.clone(),
                    similarity,
                    human: entry.human,
                    engine: if entry.human {
                        String::new()
                    } else {
                        entry.engine.clone()
                    },
                    unknown_words: split_words(&entry.unknown_words),
                });
            }
        }
        Ok(best)
    }

    /// Stores engine translations of masked segments, in one transaction.
    pub fn store_segments(
        &mut self,
        pair: &LanguagePair,
        engine: &str,
        segments: &[EngineSegment],
    ) -> Result<(), MemoryError> {
        let transaction = self.conn.transaction()?;
        {
            let mut statement = transaction.prepare_cached(
                "INSERT INTO tm_segments
                     (source_lang, target_lang, source_key, source, target, origin, engine, unknown_words)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'engine', ?6, ?7)
                 ON CONFLICT DO UPDATE SET target = excluded.target, engine = excluded.engine,
                     unknown_words = excluded.unknown_words, updated_at = datetime('now')",
            )?;
            for segment in segments {
                statement.execute(params![
                    pair.source,
                    pair.target,
                    key(&segment.source),
                    segment.source,
                    segment.target,
                    engine,
                    segment.unknown_words.join("\n"),
                ])?;
            }
        }
        transaction.commit()?;
        self.fuzzy_cache = None;
        Ok(())
    }

    /// Adds items to the review queue; an item already queued for the same
    /// SKU, field, language and source is updated instead.
    pub fn enqueue(&mut self, items: &[ReviewItem]) -> Result<(), MemoryError> {
        let transaction = self.conn.transaction()?;
        {
            let mut statement = transaction.prepare_cached(
                "INSERT INTO review_queue (sku, field, source_lang, target_lang, source, translation, score, flags)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT DO UPDATE SET translation = excluded.translation, score = excluded.score,
                     flags = excluded.flags, status = 'open'",
            )?;
            for item in items {
                statement.execute(params![
                    item.sku,
                    item.field,
                    item.source_lang,
                    item.target_lang,
                    item.source,
                    item.translation,
                    item.score,
                    item.flags
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Open review items, lowest score first, optionally for one language.
    pub fn open_reviews(&self, target_lang: Option<&str>) -> Result<Vec<ReviewItem>, MemoryError> {
        let mut statement = self.conn.prepare(
            "SELECT id, sku, field, source_lang, target_lang, source, translation, score, flags
             FROM review_queue WHERE status = 'open' AND (?1 IS NULL OR target_lang = ?1)
             ORDER BY score, sku, field",
        )?;
        let items = statement
            .query_map(params![target_lang], review_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(items)
    }

    /// Closed review items with the correction stored for their source,
    /// oldest first: how far the machine's output was from what the
    /// reviewer wrote.
    pub fn reviewed(&self) -> Result<Vec<(ReviewItem, String)>, MemoryError> {
        let mut statement = self.conn.prepare(
            "SELECT q.id, q.sku, q.field, q.source_lang, q.target_lang, q.source, q.translation,
                    q.score, q.flags, c.target
             FROM review_queue q JOIN corrections c
               ON c.source_lang = q.source_lang AND c.target_lang = q.target_lang
              AND c.source = q.source
             WHERE q.status = 'done' ORDER BY q.id",
        )?;
        let items = statement
            .query_map([], |row| Ok((review_from_row(row)?, row.get(9)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(items)
    }

    /// Finds the review item with `id`.
    pub fn review(&self, id: i64) -> Result<Option<ReviewItem>, MemoryError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, sku, field, source_lang, target_lang, source, translation, score, flags
                 FROM review_queue WHERE id = ?1",
                params![id],
                review_from_row,
            )
            .optional()?)
    }

    /// Stores human corrections of fields and closes their review items,
    /// all or none.
    pub fn correct(&mut self, corrections: &[(&ReviewItem, &str)]) -> Result<(), MemoryError> {
        let transaction = self.conn.transaction()?;
        for (item, corrected) in corrections {
            transaction.execute(
                "INSERT INTO corrections (source_lang, target_lang, source_key, source, target)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO UPDATE SET target = excluded.target, updated_at = datetime('now')",
                params![
                    item.source_lang,
                    item.target_lang,
                    key(&item.source),
                    item.source,
                    corrected
                ],
            )?;
            transaction.execute(
                "UPDATE review_queue SET status = 'done' WHERE id = ?1",
                params![item.id],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Replaces the listings of `dataset` with `listings`.
    pub fn store_catalog(
        &mut self,
        dataset: &str,
        listings: &[Listing],
    ) -> Result<usize, MemoryError> {
        let transaction = self.conn.transaction()?;
        transaction.execute(
            "DELETE FROM catalog_listings WHERE dataset = ?1",
            params![dataset],
        )?;
        {
            let mut statement = transaction
                .prepare_cached("INSERT OR REPLACE INTO catalog_listings (dataset, sku, listing) VALUES (?1, ?2, ?3)")?;
            for listing in listings {
                let json = serde_json::to_string(listing)
                    .map_err(|err| MemoryError::Corrupt(err.to_string()))?;
                statement.execute(params![dataset, listing.sku, json])?;
            }
        }
        transaction.commit()?;
        Ok(listings.len())
    }

    /// Listings ingested into `dataset`, by SKU.
    pub fn catalog(&self, dataset: &str) -> Result<Vec<Listing>, MemoryError> {
        let mut statement = self
            .conn
            .prepare("SELECT listing FROM catalog_listings WHERE dataset = ?1 ORDER BY sku")?;
        let rows = statement.query_map(params![dataset], |row| row.get::<_, String>(0))?;
        let mut listings = Vec::new();
        for row in rows {
            let json = row?;
            listings.push(
                serde_json::from_str(&json).map_err(|err| MemoryError::Corrupt(err.to_string()))?,
            );
        }
        Ok(listings)
    }
}

/// Reads a review item from a row of the columns `id, sku, field,
/// source_lang, target_lang, source, translation, score, flags`.
fn review_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewItem> {
    Ok(ReviewItem {
        id: row.get(0)?,
        sku: row.get(1)?,
        field: row.get(2)?,
        source_lang: row.get(3)?,
        target_lang: row.get(4)?,
        source: row.get(5)?,
        translation: row.get(6)?,
        score: row.get(7)?,
        flags: row.get(8)?,
    })
}

/// Lists the masked spans and numbers of a segment key, in order. A fuzzy
/// match must have the same ones, because its translation carries the
/// other segment's numbers and mask tokens, which would restore the wrong
/// URL, measure or quantity.
fn anchors(key: &str) -> Vec<&str> {
    static ANCHOR: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    ANCHOR
        .get_or_init(|| regex::Regex::new(r"⟦\s*\d+\s*⟧|\d+(?:[.,]\d+)*").expect("valid regex"))
        .find_iter(key)
        .map(|found| found.as_str())
        .collect()
}

/// Splits the stored unknown words, one per line.
fn split_words(stored: &str) -> Vec<String> {
    stored.lines().map(str::to_string).collect()
}

/// Adapts the stored translation of a fuzzy match to the new source.
///
/// `old_output` and `new_output` are the engine's translations of the
/// stored source and of the new one. Where they differ (a run of words
/// between a common beginning and end: "mujer" against "hombre"), the same
/// words of `stored` are replaced, so a correction of "Women's red shirt"
/// serves "Men's red shirt" without keeping "mujer". The differing words
/// must occur exactly once in `stored` between the words that surround
/// them in the engine's output, or alone if one of them has five letters
/// or more. Otherwise, or when nothing but an insertion differs, it returns
/// `None`: the stored translation cannot be trusted for the new source.
pub fn repair(old_output: &str, new_output: &str, stored: &str) -> Option<String> {
    let old: Vec<&str> = old_output.split_whitespace().collect();
    let new: Vec<&str> = new_output.split_whitespace().collect();
    let same = |a: &&str, b: &&str| a.to_lowercase() == b.to_lowercase();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| same(a, b)).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| same(a, b))
        .count();
    let removed = &old[prefix..old.len() - suffix];
    let added = &new[prefix..new.len() - suffix];
    if removed.is_empty() && added.is_empty() {
        return Some(stored.to_string());
    }
    if removed.is_empty() {
        return None;
    }

    static WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let words: Vec<regex::Match<'_>> = WORD
        .get_or_init(|| regex::Regex::new(r"\S+").expect("valid regex"))
        .find_iter(stored)
        .collect();
    // The changed words are looked for with a word of the engine's output
    // beside them, so that "con" of "sin cremallera" is not taken for the
    // "con" of "con capucha".
    // Both neighbours are needed where the output has both: with one, the
    // "hoodie con" of "hoodie con cremallera" would match "Hoodie con
    // capucha" in a correction that put the hood first.
    let before: &[&str] = match prefix.checked_sub(1) {
        Some(i) => &old[i..=i],
        None => &[],
    };
    let after: &[&str] = match old.len() - suffix {
        i if i < old.len() => &old[i..=i],
        _ => &[],
    };
    let mut patterns: Vec<(Vec<&str>, usize)> = Vec::new();
    if !before.is_empty() || !after.is_empty() {
        patterns.push(([before, removed, after].concat(), before.len()));
    }
    // Alone, only a word of five letters or more is distinct enough to be
    // found: "mujer", not "con".
    if patterns.is_empty() || removed.iter().any(|word| word.chars().count() >= 5) {
        patterns.push((removed.to_vec(), 0));
    }
    let start = patterns.iter().find_map(|(pattern, skip)| {
        let mut found = (0..=words.len().checked_sub(pattern.len())?).filter(|&start| {
            words[start..start + pattern.len()]
                .iter()
                .zip(pattern)
                .all(|(word, expected)| same(&word.as_str(), expected))
        });
        let start = found.next()?;
        found.next().is_none().then_some(start + skip)
    })?;
    let (from, to) = (words[start].start(), words[start + removed.len() - 1].end());
    // The stored text's capital or small letter stays: the engine may
    // capitalize a word the person did not.
    let mut replacement = added.join(" ");
    let stored_upper = stored[from..].starts_with(char::is_uppercase);
    if let Some(first) = replacement.chars().next() {
        let rest = &replacement[first.len_utf8()..];
        replacement = if stored_upper {
            format!("{}{rest}", first.to_uppercase())
        } else {
            format!("{}{rest}", first.to_lowercase())
        };
    }
    Some(format!("{}{replacement}{}", &stored[..from], &stored[to..]))
}

/// Normalized Levenshtein similarity of two keys, 0 to 1.
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::normalized_levenshtein(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repair_swaps_the_words_the_engine_changed() {
        assert_eq!(
            repair(
                "Camisa roja de mujer",
                "Camisa roja de hombre",
                "Camisa roja para mujer"
            )
            .as_deref(),
            Some("Camisa roja para hombre")
        );
        // Same engine output: the change did not matter to the translation.
        assert_eq!(
            repair("Taza azul.", "Taza azul.", "Taza azul clara.").as_deref(),
            Some("Taza azul clara.")
        );
        // The stored text keeps its small letter.
        assert_eq!(
            repair(
                "Taza hoodie Con tapa",
                "Taza hoodie Sin tapa",
                "Sudadera: taza hoodie con tapa"
            )
            .as_deref(),
            Some("Sudadera: taza hoodie sin tapa")
        );
        // Line breaks of the stored text stay.
        assert_eq!(
            repair("Jarrón de vidrio", "Jarrón de cristal", "Jarrón\nde vidrio").as_deref(),
            Some("Jarrón\nde cristal")
        );
    }

    #[test]
    fn repair_refuses_what_it_cannot_place() {
        // The person wrote other words than the engine did.
        assert_eq!(
            repair("Camisa de mujer", "Camisa de hombre", "Blusa femenina"),
            None
        );
        // The changed word occurs twice.
        assert_eq!(
            repair("Rojo y mujer", "Rojo y hombre", "mujer a mujer"),
            None
        );
        // Only an insertion: nowhere to put it.
        assert_eq!(repair("Taza", "Taza grande", "Taza"), None);
        // The changed word is elsewhere in the stored text, beside other
        // words: "con capucha" is not "con cremallera".
        assert_eq!(
            repair(
                "Tibio hoodie con cremallera",
                "Tibio hoodie sin cremallera",
                "Sudadera con capucha y cremallera, cálida"
            ),
            None
        );
        assert_eq!(
            repair(
                "Tibio hoodie con cremallera y con capucha",
                "Tibio hoodie sin cremallera y con capucha",
                "Hoodie con capucha y con cremallera, tibio"
            ),
            None
        );
    }

    #[test]
    fn segment_lookup_exact_and_fuzzy() {
        let dir = tempfile::tempdir().unwrap();
        let mut memory = Memory::open(dir.path()).unwrap();
        let pair = LanguagePair::new("en", "es");
        memory
            .store_segments(
                &pair,
                "apertium",
                &[EngineSegment {
                    source: "The red car is fast.".into(),
                    target: "El coche rojo es rápido.".into(),
                    unknown_words: vec!["fast".into()],
                }],
            )
            .unwrap();

        let exact = memory
            .segment(&pair, "the red  car is fast.")
            .unwrap()
            .unwrap();
        assert_eq!(exact.similarity, 1.0);
        assert_eq!(exact.unknown_words, ["fast"]);
        let fuzzy = memory
            .segment(&pair, "The red car is fast!")
            .unwrap()
            .unwrap();
        assert!(fuzzy.similarity >= FUZZY_THRESHOLD);
        assert!(fuzzy.similarity < 1.0);
        assert_eq!(fuzzy.unknown_words, ["fast"]);
        assert!(memory.segment(&pair, "A blue boat.").unwrap().is_none());

        // A near match with other numbers or mask tokens is not reused.
        memory
            .store_segments(
                &pair,
                "apertium",
                &[EngineSegment {
                    source: "A box of 24 red pencils, see ⟦1⟧.".into(),
                    target: "Una caja de 24 lápices rojos, ve ⟦1⟧.".into(),
                    unknown_words: Vec::new(),
                }],
            )
            .unwrap();
        assert!(memory
            .segment(&pair, "A box of 12 red pencils, see ⟦1⟧.")
            .unwrap()
            .is_none());
        assert!(memory
            .segment(&pair, "A box of 24 red pencils, see ⟦2⟧.")
            .unwrap()
            .is_none());
        assert!(memory
            .segment(&pair, "A box of 24 red pencils, see ⟦1⟧!")
            .unwrap()
            .is_some());
    }

    #[test]
    fn correction_closes_review_item() {
        let dir = tempfile::tempdir().unwrap();
        let mut memory = Memory::open(dir.path()).unwrap();
        let item = ReviewItem {
            id: 0,
            sku: "A1".into(),
            field: "title".into(),
            source_lang: "en".into(),
            target_lang: "es".into(),
            source: "Red mug".into(),
            translation: "Rojo taza".into(),
            score: 40.0,
            flags: "unknown_words".into(),
        };
        memory.enqueue(std::slice::from_ref(&item)).unwrap();
        let queued = memory.open_reviews(Some("es")).unwrap();
        assert_eq!(queued.len(), 1);
        memory.correct(&[(&queued[0], "Taza roja")]).unwrap();
        assert!(memory.open_reviews(None).unwrap().is_empty());
        let pair = LanguagePair::new("en", "es");
        assert_eq!(
            memory.correction(&pair, "red mug").unwrap().unwrap().target,
            "Taza roja"
        );
        let reviewed = memory.reviewed().unwrap();
        assert_eq!(reviewed.len(), 1);
        assert_eq!(reviewed[0].0.translation, "Rojo taza");
        assert_eq!(reviewed[0].1, "Taza roja");
    }
}
