//! Product similarity by title: TF-IDF vectors and cosine.
//!
//! A product nobody has bought yet has no purchase neighbours, so its
//! similar items come from its title. Titles are split into lower-case
//! alphanumeric words of two or more characters; each word is weighted by
//! `(1 + ln tf) * ln(1 + n_titles / df)` and every vector has unit length,
//! so a dot product is a cosine.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::itemknn::keep_top;

/// TF-IDF vectors of product titles with an inverted index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TitleIndex {
    vocabulary: HashMap<String, u32>,
    idf: Vec<f32>,
    /// Unit-length `(term, weight)` vector of every title.
    vectors: Vec<Vec<(u32, f32)>>,
    /// For every term, the `(title, weight)` pairs containing it.
    postings: Vec<Vec<(u32, f32)>>,
}

impl TitleIndex {
    /// Indexes `titles`; the position of a title is its index in results.
    pub fn build(titles: &[&str]) -> TitleIndex {
        let tokenized: Vec<Vec<String>> = titles.iter().map(|title| tokenize(title)).collect();
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let mut document_frequency: Vec<u32> = Vec::new();
        for tokens in &tokenized {
            let mut distinct: Vec<&String> = tokens.iter().collect();
            distinct.sort();
            distinct.dedup();
            for token in distinct {
                let next_id = vocabulary.len() as u32;
                let term = *vocabulary.entry(token.clone()).or_insert(next_id);
                if term as usize == document_frequency.len() {
                    document_frequency.push(0);
                }
                document_frequency[term as usize] += 1;
            }
        }
        let n_titles = titles.len().max(1) as f32;
        let idf: Vec<f32> = document_frequency
            .iter()
            .map(|&df| (1.0 + n_titles / df as f32).ln())
            .collect();

        let mut index = TitleIndex {
            vocabulary,
            idf,
            vectors: Vec::new(),
            postings: Vec::new(),
        };
        index.postings = vec![Vec::new(); index.idf.len()];
        for (title_idx, tokens) in tokenized.iter().enumerate() {
            let vector = index.vectorize_tokens(tokens);
            for &(term, weight) in &vector {
                index.postings[term as usize].push((title_idx as u32, weight));
            }
            index.vectors.push(vector);
        }
        index
    }

    /// Number of indexed titles.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Whether no title is indexed.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Unit-length TF-IDF vector of any title; words absent from the index
    /// are ignored.
    pub fn vectorize(&self, title: &str) -> Vec<(u32, f32)> {
        self.vectorize_tokens(&tokenize(title))
    }

    /// Up to `k` indexed titles most similar to `vector`, best first, with
    /// their cosine; `exclude` is left out.
    pub fn nearest(
        &self,
        vector: &[(u32, f32)],
        k: usize,
        exclude: Option<u32>,
    ) -> Vec<(u32, f32)> {
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for &(term, weight) in vector {
            for &(title, title_weight) in &self.postings[term as usize] {
                *scores.entry(title).or_default() += weight * title_weight;
            }
        }
        if let Some(excluded) = exclude {
            scores.remove(&excluded);
        }
        let mut list: Vec<(u32, f32)> = scores.into_iter().collect();
        keep_top(&mut list, k);
        list
    }

    /// Up to `k` titles most similar to indexed title `title_idx`.
    pub fn similar(&self, title_idx: usize, k: usize) -> Vec<(u32, f32)> {
        self.nearest(&self.vectors[title_idx], k, Some(title_idx as u32))
    }

    fn vectorize_tokens(&self, tokens: &[String]) -> Vec<(u32, f32)> {
        let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
        for token in tokens {
            if let Some(&term) = self.vocabulary.get(token) {
                *counts.entry(term).or_default() += 1;
            }
        }
        let mut vector: Vec<(u32, f32)> = counts
            .into_iter()
            .map(|(term, tf)| (term, (1.0 + (tf as f32).ln()) * self.idf[term as usize]))
            .collect();
        let norm = vector.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|(_, w)| *w /= norm);
        }
        vector
    }
}

/// Lower-case alphanumeric words of at least two characters.
fn tokenize(title: &str) -> Vec<String> {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_rare_words_make_titles_similar() {
        let index = TitleIndex::build(&[
            "WHITE HANGING HEART T-LIGHT HOLDER",
            "RED HANGING HEART T-LIGHT HOLDER",
            "JUMBO BAG RED RETROSPOT",
            "WHITE METAL LANTERN",
        ]);
        let similar = index.similar(0, 2);
        assert_eq!(similar[0].0, 1);
        assert!(similar[0].1 > 0.5, "{similar:?}");
    }

    #[test]
    fn unknown_title_words_are_ignored() {
        let index = TitleIndex::build(&["PAPER CHAIN KIT", "PAPER LANTERN"]);
        let vector = index.vectorize("Paper zebra");
        assert_eq!(vector.len(), 1);
        let nearest = index.nearest(&vector, 5, None);
        assert_eq!(nearest.len(), 2);
        assert!(index.vectorize("zebra").is_empty());
    }
}
